/**
 * Socket tables per network namespace and socket names as lsof prints them
 * (`127.0.0.1:9999 (LISTEN)`, `a:p->b:q (ESTABLISHED)`, `/run/x.sock type=STREAM
 * (LISTEN)`). TCP/UDP sockets of the reader's own namespace are asked through
 * sock_diag (fast); another namespace is read through `/proc/PID/net` of a
 * process inside it. Unix sockets of the reader's own namespace come from
 * sock_diag too (every path exact, and the owners), with the kernel address lsof
 * shows as DEVICE from `/proc/net/unix`, which alone tells it; another
 * namespace's come from its `/proc/PID/net/unix` alone. Raw IP and packet
 * sockets, and bound netlink sockets, come from `/proc/net/{raw,raw6,packet,netlink}`.
 *
 * @module
 */

import {
  type InetSocket,
  isUnixListener,
  type NetlinkSocket,
  type PacketSocket,
  parseInetTable,
  parseNetlinkTable,
  parsePacketTable,
  parseRawTable,
  parseUnixTable,
  type PortRange,
  type RawSocket,
  SOCKET_TYPES,
  TCP_LISTEN,
  TCP_STATES,
  type UnixSocket,
  usesPort,
} from "../procfs/net.ts";
import {
  dumpInetSockets,
  dumpUnixSockets,
  type UnixDiagSocket,
  type UnixDumpFilter,
} from "../sys/sock_diag.ts";
import { SysError } from "../sys/errno.ts";
import { isInDir } from "../path.ts";

/** Which network namespace to read: the reader's own, or the one `pid` is in. */
export type NetnsSource = { own: true } | { own: false; pid: number };

/** Which TCP/UDP sockets to read. */
export interface InetFilter {
  protocols: InetSocket["protocol"][];
  /** Only sockets with a local or remote port in this range. */
  ports?: PortRange;
  /** Only listeners: TCP in LISTEN, UDP bound and not connected. */
  listening?: boolean;
  /** Only these address families (default both). */
  families?: InetSocket["family"][];
  /** Only sockets with these inodes. */
  inodes?: ReadonlySet<number>;
}

/** A socket found in a table, by kind. */
export type SocketInfo =
  | { kind: "inet"; socket: InetSocket }
  | { kind: "unix"; socket: UnixSocket }
  | { kind: "raw"; family: InetSocket["family"]; socket: RawSocket }
  | { kind: "packet"; socket: PacketSocket }
  | { kind: "netlink"; socket: NetlinkSocket }
  /** In no table: only the protocol the socket names (`NETLINK`, `TCP` for an unbound one…). */
  | { kind: "other"; protocol: string };

const _UDP_UNCONNECTED = 7;
const _FAMILIES: InetSocket["family"][] = ["ipv4", "ipv6"];

/** A socket that a query can name by its address: TCP, UDP or unix. */
export type AddressSocket = Extract<SocketInfo, { kind: "inet" | "unix" }>;

/** Whether a socket found is TCP, UDP or unix (see {@linkcode AddressSocket}). */
export function isAddressSocket(found: SocketInfo): found is AddressSocket {
  return found.kind === "inet" || found.kind === "unix";
}

/** Whether a socket is a listener in the sense of `--listen`. */
export function isListening(socket: InetSocket): boolean {
  return socket.protocol === "tcp"
    ? socket.state === TCP_LISTEN
    : socket.state === _UDP_UNCONNECTED && socket.remotePort === 0;
}

/** The TCP/UDP sockets of one network namespace that pass `filter`. */
export function readInetSockets(source: NetnsSource, filter: InetFilter): InetSocket[] {
  const found: InetSocket[] = [];
  for (const protocol of filter.protocols) {
    for (const family of filter.families ?? _FAMILIES) {
      const sockets = source.own
        ? _dumpOwn(protocol, family, filter)
        : _readTable(`/proc/${source.pid}/net`, protocol, family);
      for (const socket of sockets) {
        if (filter.ports !== undefined && !usesPort(socket, filter.ports)) continue;
        if (filter.listening && !isListening(socket)) continue;
        if (filter.inodes && !filter.inodes.has(socket.inode)) continue;
        found.push(socket);
      }
    }
  }
  return found;
}

function _dumpOwn(
  protocol: InetSocket["protocol"],
  family: InetSocket["family"],
  filter: InetFilter,
): InetSocket[] {
  const states = !filter.listening
    ? undefined
    : 1 << (protocol === "tcp" ? TCP_LISTEN : _UDP_UNCONNECTED);
  return _diagOr(
    () => dumpInetSockets(protocol, family, { states, ports: filter.ports, inodes: filter.inodes }),
    () => _readTable("/proc/net", protocol, family),
  );
}

/** What sock_diag answers; without it (some sandboxes), what `fallback` reads instead. */
function _diagOr<T>(dump: () => T, fallback: () => T): T {
  try {
    return dump();
  } catch (error) {
    if (error instanceof SysError) return fallback();
    throw error;
  }
}

function _readTable(
  directory: string,
  protocol: InetSocket["protocol"],
  family: InetSocket["family"],
): InetSocket[] {
  const text = _readOrEmpty(`${directory}/${protocol}${family === "ipv6" ? "6" : ""}`);
  return parseInetTable(text, protocol, family);
}

/** Which unix sockets {@linkcode readUnixSockets} returns. */
export interface UnixFilter extends UnixDumpFilter {
  /**
   * Only sockets bound to one of these paths (as the kernel names them), or
   * (with `dirs`) below one of `dirs`.
   */
  paths?: readonly string[];
  /** Only sockets bound to a path below one of these directories (or, with `paths`, one of those). */
  dirs?: readonly string[];
}

/**
 * The unix sockets of one network namespace that pass `filter`, without those
 * no file holds (inode 0: connections not accepted yet). The reader's own
 * namespace is asked through sock_diag, which tells every path exactly, and
 * the owner; `/proc/net/unix` then gives only the kernel address (lsof's
 * DEVICE), which sock_diag does not, and is read only when a socket passed.
 * The table cannot be trusted with paths: the kernel writes a path there as it
 * is, so a newline in one carries its rest to lines of their own, which may
 * read as another socket's line, with any inode, and nothing there tells such
 * a line from a real one. Where only the table can be read (another namespace,
 * through `/proc/PID/net/unix`, or no sock_diag in some sandboxes) its lines
 * that are no socket's are joined back to the path before them, but a path
 * whose rest reads as a line is cut there, and that line is taken for a
 * socket; owners are unknown there (null).
 */
export function readUnixSockets(source: NetnsSource, filter: UnixFilter = {}): UnixSocket[] {
  const found = _findUnixSockets(source, filter);
  if (found.table) return found.sockets;
  return found.sockets.length === 0 ? [] : _withKernelAddresses(found.sockets);
}

/**
 * The unix sockets of one network namespace that pass `filter`: from
 * sock_diag in the reader's own namespace (no kernel addresses), else from
 * the table (`table`: kernel addresses, no owners).
 */
function _findUnixSockets(
  source: NetnsSource,
  filter: UnixFilter,
): { table: false; sockets: UnixDiagSocket[] } | { table: true; sockets: UnixSocket[] } {
  const { paths, dirs } = filter;
  const wantedPath = (path: string) =>
    (paths === undefined && dirs === undefined) || !!paths?.includes(path) ||
    !!dirs?.some((dir) => isInDir(path, dir));
  const passes = (socket: UnixDiagSocket) =>
    socket.inode !== 0 && (!filter.inodes || filter.inodes.has(socket.inode)) &&
    wantedPath(socket.path) && (!filter.listening || isUnixListener(socket));
  const named = source.own
    ? _diagOr<UnixDiagSocket[] | null>(() => dumpUnixSockets(filter), () => null)
    : null;
  if (named !== null) return { table: false, sockets: named.filter(passes) };
  const table = parseUnixTable(_readOrEmpty(`${_netDirectory(source)}/unix`), filter.inodes);
  return { table: true, sockets: table.filter(passes) };
}

/**
 * `sockets` (from sock_diag, of the reader's own namespace) with their kernel
 * addresses from `/proc/net/unix`; a socket closed before the table was read
 * is left out, as it would have been.
 */
function _withKernelAddresses(sockets: UnixDiagSocket[]): UnixSocket[] {
  const byInode = new Map(sockets.map((socket) => [socket.inode, socket]));
  const table = parseUnixTable(_readOrEmpty("/proc/net/unix"), new Set(byInode.keys()));
  const addresses = new Map<number, string>();
  for (const { inode, path, kernelAddress } of table) {
    // A line forged inside a path may bear the inode too: the line with the socket's path wins.
    if (!addresses.has(inode) || path === byInode.get(inode)?.path) {
      addresses.set(inode, kernelAddress);
    }
  }
  return sockets.flatMap((socket) => {
    const kernelAddress = addresses.get(socket.inode);
    return kernelAddress === undefined ? [] : [{ ...socket, kernelAddress }];
  });
}

/**
 * The unix sockets `inodes` of one network namespace, read again now with
 * their owners: the reader's own namespace through sock_diag, and then, unlike
 * {@linkcode readUnixSockets}, without their kernel addresses. Another
 * namespace, or the own one without sock_diag, is read from `/proc/net/unix`,
 * and the owners stay unknown (null).
 */
export function readUnixOwners(source: NetnsSource, inodes: ReadonlySet<number>): UnixDiagSocket[] {
  return _findUnixSockets(source, { inodes }).sockets;
}

/** The raw IP sockets `inodes` of one network namespace, of one address family. */
export function readRawSockets(
  source: NetnsSource,
  family: InetSocket["family"],
  inodes: ReadonlySet<number>,
): RawSocket[] {
  return _readSockets(source, `raw${family === "ipv6" ? "6" : ""}`, parseRawTable, inodes);
}

/** The packet sockets `inodes` of one network namespace. */
export function readPacketSockets(
  source: NetnsSource,
  inodes: ReadonlySet<number>,
): PacketSocket[] {
  return _readSockets(source, "packet", parsePacketTable, inodes);
}

/** The netlink sockets `inodes` of one network namespace (bound ones: see {@linkcode NetlinkSocket}). */
export function readNetlinkSockets(
  source: NetnsSource,
  inodes: ReadonlySet<number>,
): NetlinkSocket[] {
  return _readSockets(source, "netlink", parseNetlinkTable, inodes);
}

/** The sockets `inodes` in table `table` of one network namespace, parsed by `parse`. */
function _readSockets<T extends { inode: number }>(
  source: NetnsSource,
  table: string,
  parse: (text: string) => T[],
  inodes: ReadonlySet<number>,
): T[] {
  const text = _readOrEmpty(`${_netDirectory(source)}/${table}`);
  return parse(text).filter((socket) => inodes.has(socket.inode));
}

function _netDirectory(source: NetnsSource): string {
  return source.own ? "/proc/net" : `/proc/${source.pid}/net`;
}

/** A table that is missing (no IPv6, process gone) reads as empty. */
function _readOrEmpty(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  }
}

/**
 * lsof's NAME for a TCP/UDP socket: `local->remote (STATE)`. An unspecified
 * address prints as `*`, IPv6 in brackets, and v4-mapped IPv6 addresses (the
 * peers of a dual-stack listener) as plain IPv4; UDP has no state.
 */
export function inetName(socket: InetSocket): string {
  const mapped = socket.family === "ipv6" &&
    (socket.localAddress.startsWith("::ffff:") || socket.remoteAddress.startsWith("::ffff:"));
  const endpoint = (address: string, port: number) => {
    if (mapped) address = address.replace(/^::ffff:/, "");
    if (address === "0.0.0.0" || address === "::") return `*:${port}`;
    return !mapped && socket.family === "ipv6" ? `[${address}]:${port}` : `${address}:${port}`;
  };
  let name = endpoint(socket.localAddress, socket.localPort);
  const unspecified = socket.remoteAddress === "0.0.0.0" || socket.remoteAddress === "::";
  if (!unspecified || socket.remotePort !== 0) {
    name += `->${endpoint(socket.remoteAddress, socket.remotePort)}`;
  }
  if (socket.protocol === "tcp") name += ` (${TCP_STATES[socket.state] ?? socket.state})`;
  return name;
}

/** lsof's NAME for a unix socket: `[path ]type=STREAM (STATE)`. */
export function unixName(socket: Pick<UnixSocket, "path" | "type" | "state">): string {
  return `${socket.path ? `${socket.path} ` : ""}type=${socket.type} (${socket.state})`;
}

/** lsof's NAME for a raw IP socket: the table's addresses and state as they are. */
export function rawName(socket: RawSocket): string {
  return `${socket.localAddress}->${socket.remoteAddress} st=${socket.state}`;
}

/** lsof's NAME for a packet socket: its type (`type=SOCK_RAW`). */
export function packetName(socket: PacketSocket): string {
  return `type=SOCK_${SOCKET_TYPES[socket.type] ?? socket.type}`;
}

/** Names of the Ethernet protocols packet sockets most often ask for, by number. */
const _ETHERNET_PROTOCOLS: Readonly<Record<number, string>> = {
  0x0001: "802.3",
  0x0003: "ALL",
  0x0004: "802.2",
  0x0060: "LOOP",
  0x0800: "IP",
  0x0806: "ARP",
  0x8035: "RARP",
  0x8100: "8021Q",
  0x86dd: "IPV6",
  0x888e: "PAE",
  0x88a8: "8021AD",
  0x88cc: "LLDP",
};

/**
 * lsof's NODE for a packet socket: the Ethernet protocol it receives by name
 * (`ALL`, `IP`, `IPV6`, `ARP`…), else its number in decimal, as lsof prints
 * the ones it has no name for.
 */
export function packetProtocolName(socket: PacketSocket): string {
  return _ETHERNET_PROTOCOLS[socket.protocol] ?? String(socket.protocol);
}

/** lsof's names of the netlink protocols, by number (NETLINK_ROUTE is 0). */
const _NETLINK_PROTOCOLS: Readonly<Record<number, string>> = {
  0: "ROUTE",
  1: "UNUSED",
  2: "USERSOCK",
  3: "FIREWALL",
  4: "INET_DIAG",
  5: "NFLOG",
  6: "XFRM",
  7: "SELINUX",
  8: "ISCSI",
  9: "AUDIT",
  10: "FIB_LOOKUP",
  11: "CONNECTOR",
  12: "NETFILTER",
  13: "IP6_FW",
  14: "DNRTMSG",
  15: "KOBJECT_UEVENT",
  16: "GENERIC",
  18: "SCSITRANSPORT",
  19: "ECRYPTFS",
  20: "RDMA",
  21: "CRYPTO",
  22: "SMC",
};

/** lsof's NAME for a netlink socket: its protocol (`ROUTE`, `KOBJECT_UEVENT`…). */
export function netlinkName(socket: NetlinkSocket): string {
  return _NETLINK_PROTOCOLS[socket.protocol] ?? `unknown protocol: ${socket.protocol}`;
}

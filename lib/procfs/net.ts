/**
 * The socket tables in `/proc/net` (`tcp`, `tcp6`, `udp`, `udp6`, `unix`, `raw`,
 * `raw6`, `packet`, `netlink`): who
 * is bound where, in which state, under which socket inode. `/proc/net` shows the
 * reader's network namespace; `/proc/PID/net` shows the namespace of PID.
 *
 * @module
 */

import { formatIpv6 } from "../sys/sockaddr.ts";

/** A TCP or UDP socket, as the kernel's tables (or sock_diag) describe it. */
export interface InetSocket {
  protocol: "tcp" | "udp";
  family: "ipv4" | "ipv6";
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** The kernel's TCP state number (UDP uses 1 for connected, 7 for not). */
  state: number;
  /** The socket inode; 0 for sockets no process holds (TIME_WAIT, not yet accepted). */
  inode: number;
  /** The uid of the socket's creator. */
  uid: number;
}

/** Ports `first` to `last`, both included (one port: both the same). */
export interface PortRange {
  first: number;
  last: number;
}

/** Whether `socket`'s local or remote port is within `range`. */
export function usesPort(
  socket: Pick<InetSocket, "localPort" | "remotePort">,
  range: PortRange,
): boolean {
  const within = (port: number) => port >= range.first && port <= range.last;
  return within(socket.localPort) || within(socket.remotePort);
}

/**
 * Whether a unix socket listens in the sense of `--listen`: it is in LISTEN,
 * or it is a datagram socket bound to a name and connected to none, a server
 * such as syslog's `/dev/log` (as a bound, unconnected UDP socket listens).
 * Once a client connects to such a server, the kernel shows the server too as
 * CONNECTED (`ss -l` then leaves it out), but with no peer: where the peer is
 * unknown (`/proc/net/unix` does not tell), only an unconnected one counts.
 */
export function isUnixListener(
  socket: Pick<UnixSocket, "type" | "state" | "path" | "peer">,
): boolean {
  if (socket.state === "LISTEN") return true;
  if (socket.type !== "DGRAM" || socket.path === "") return false;
  return socket.peer === null ? socket.state === "UNCONNECTED" : socket.peer === 0;
}

/** A unix socket from `/proc/net/unix` (or sock_diag). */
export interface UnixSocket {
  inode: number;
  /** The kernel address of the socket (`0x…`; zeros when the kernel hides it), lsof's DEVICE. */
  kernelAddress: string;
  /** The bound path (`@name` for the abstract namespace), or "" when unbound. */
  path: string;
  /**
   * The inode of the socket it is connected to, 0 for none; null when unknown
   * (`/proc/net/unix` does not tell; sock_diag does).
   */
  peer: number | null;
  /** `STREAM`, `DGRAM`, `SEQPACKET`… */
  type: string;
  /** `LISTEN`, `CONNECTED`, `UNCONNECTED`, `CONNECTING` or `DISCONNECTING`. */
  state: string;
  /**
   * The uid of the socket's creator; null when unknown: `/proc/net/unix` does
   * not show it (sock_diag does, from Linux 5.3).
   */
  uid: number | null;
}

/** TCP state names by the kernel's numbers, as lsof and ss print them. */
export const TCP_STATES: Readonly<Record<number, string>> = {
  1: "ESTABLISHED",
  2: "SYN_SENT",
  3: "SYN_RECV",
  4: "FIN_WAIT1",
  5: "FIN_WAIT2",
  6: "TIME_WAIT",
  7: "CLOSE",
  8: "CLOSE_WAIT",
  9: "LAST_ACK",
  10: "LISTEN",
  11: "CLOSING",
  12: "NEW_SYN_RECV",
};

/** The TCP LISTEN state number. */
export const TCP_LISTEN = 10;

/**
 * Parses a `/proc/net/{tcp,tcp6,udp,udp6}` table. Addresses there are 32-bit
 * words in host byte order (127.0.0.1 is `0100007F` on little-endian machines).
 */
export function parseInetTable(
  text: string,
  protocol: InetSocket["protocol"],
  family: InetSocket["family"],
): InetSocket[] {
  // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
  return _tableRows(text, 10).map((fields) => {
    const [localAddress, localPort] = _parseEndpoint(fields[1], family);
    const [remoteAddress, remotePort] = _parseEndpoint(fields[2], family);
    return {
      protocol,
      family,
      localAddress,
      localPort,
      remoteAddress,
      remotePort,
      state: parseInt(fields[3], 16),
      uid: Number(fields[7]),
      inode: Number(fields[9]),
    };
  });
}

function _parseEndpoint(text: string, family: InetSocket["family"]): [string, number] {
  const [hex, port] = text.split(":");
  const bytes = new Uint8Array(hex.length / 2);
  // Each group of 8 hex digits is one 32-bit word in host (little-endian) byte order.
  for (let word = 0; word < bytes.length / 4; word++) {
    for (let i = 0; i < 4; i++) {
      bytes[word * 4 + i] = parseInt(hex.slice(word * 8 + (3 - i) * 2, word * 8 + (4 - i) * 2), 16);
    }
  }
  return [family === "ipv4" ? bytes.join(".") : formatIpv6(bytes), parseInt(port, 16)];
}

/**
 * A raw IP socket from `/proc/net/raw` or `raw6`, its fields as the table
 * writes them (lsof shows them so): addresses in hexadecimal words with the
 * protocol number after the colon (`0100007F:0001`), the state in hexadecimal.
 */
export interface RawSocket {
  inode: number;
  localAddress: string;
  remoteAddress: string;
  state: string;
}

/** Parses `/proc/net/raw` or `/proc/net/raw6`. */
export function parseRawTable(text: string): RawSocket[] {
  // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
  return _tableRows(text, 10).map((fields) => {
    const [, localAddress, remoteAddress, state] = fields;
    return { inode: Number(fields[9]), localAddress, remoteAddress, state };
  });
}

/** A packet socket (`AF_PACKET`) from `/proc/net/packet`. */
export interface PacketSocket {
  inode: number;
  /** The socket type number (SOCK_RAW is 3, SOCK_DGRAM 2). */
  type: number;
  /** The Ethernet protocol it receives (ETH_P_ALL is 3, IPv4 0x800), in host byte order. */
  protocol: number;
}

/** Parses `/proc/net/packet`. */
export function parsePacketTable(text: string): PacketSocket[] {
  // sk RefCnt Type Proto Iface R Rmem User Inode
  return _tableRows(text, 9).map((fields) => ({
    inode: Number(fields[8]),
    type: Number(fields[2]),
    protocol: parseInt(fields[3], 16),
  }));
}

/**
 * A netlink socket (`AF_NETLINK`) from `/proc/net/netlink`. Only bound ones are
 * there (explicitly, or on their first send): an unbound one is in no table.
 */
export interface NetlinkSocket {
  inode: number;
  /** The netlink protocol number (NETLINK_ROUTE is 0, NETLINK_KOBJECT_UEVENT 15). */
  protocol: number;
}

/** Parses `/proc/net/netlink`. */
export function parseNetlinkTable(text: string): NetlinkSocket[] {
  // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
  return _tableRows(text, 10).map((fields) => ({
    inode: Number(fields[9]),
    protocol: Number(fields[1]),
  }));
}

/** The fields of each line of a `/proc/net` table below its header that has at least `count`. */
function _tableRows(text: string, count: number): string[][] {
  return text.split("\n").slice(1).map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= count);
}

/** Socket type names by the kernel's numbers (SOCK_STREAM is 1…), the same for every family. */
export const SOCKET_TYPES: Readonly<Record<number, string>> = {
  1: "STREAM",
  2: "DGRAM",
  3: "RAW",
  4: "RDM",
  5: "SEQPACKET",
  6: "DCCP",
  10: "PACKET",
};
const _UNIX_STATES = ["UNCONNECTED", "UNCONNECTED", "CONNECTING", "CONNECTED", "DISCONNECTING"];
const _SO_ACCEPTCON = 0x10000;

/** A line of `/proc/net/unix`: Num RefCount Protocol Flags Type St Inode [Path]; paths may hold spaces. */
const _UNIX_LINE =
  /^([0-9a-f]+): [0-9a-f]+ [0-9a-f]+ ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+) +(\d+)(?: (.*))?$/i;

/**
 * Parses `/proc/net/unix`; with `inodes`, only the lines of those sockets. The
 * kernel writes a path as it is, so a newline in it goes on to the next line:
 * lines that are no socket's are joined back to the path before them. A path
 * whose rest reads like a socket's line cannot be told apart here (sock_diag
 * tells every path exactly: see `dumpUnixSockets`).
 */
export function parseUnixTable(text: string, inodes?: ReadonlySet<number>): UnixSocket[] {
  const body = text.replace(/\n$/, "");
  // For a few sockets, only the lines holding their inodes are read (and the lines after them).
  const starts = inodes && inodes.size <= _FEW_INODES
    ? _linesHolding(body, [...inodes].map((inode) => ` ${inode}`))
    : _allLines(body);
  const sockets: UnixSocket[] = [];
  for (const start of starts) {
    if (start === 0) continue; // the header
    let end = _lineEnd(body, start);
    const socket = _unixSocket(body.slice(start, end));
    if (!socket || (inodes && !inodes.has(socket.inode))) continue;
    // The lines after it that are no socket's are the rest of its path.
    while (end < body.length) {
      const next = _lineEnd(body, end + 1), line = body.slice(end + 1, next);
      if (_UNIX_LINE.test(line)) break;
      socket.path += `\n${line}`;
      end = next;
    }
    sockets.push(socket);
  }
  return sockets;
}

/** Up to how many inodes {@linkcode parseUnixTable} looks for by substring. */
const _FEW_INODES = 16;

/** The socket a line of `/proc/net/unix` describes; null for a line that is none (part of a path). */
function _unixSocket(line: string): UnixSocket | null {
  const match = _UNIX_LINE.exec(line);
  if (!match) return null;
  const [, address, flags, type, state, inode, path = ""] = match;
  return {
    inode: Number(inode),
    kernelAddress: `0x${address}`,
    path,
    type: SOCKET_TYPES[parseInt(type, 16)] ?? "unknown",
    state: (parseInt(flags, 16) & _SO_ACCEPTCON) !== 0
      ? "LISTEN"
      : _UNIX_STATES[parseInt(state, 16)] ?? "UNKNOWN",
    peer: null,
    uid: null,
  };
}

/** Where each line of `text` starts. */
function _allLines(text: string): number[] {
  const starts = [0];
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) starts.push(at + 1);
  return starts;
}

/** Where each line of `text` that holds one of `needles` starts, in order. */
function _linesHolding(text: string, needles: string[]): number[] {
  const starts = new Set<number>();
  for (const needle of needles) {
    for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
      starts.add(text.lastIndexOf("\n", at) + 1);
    }
  }
  return [...starts].sort((a, b) => a - b);
}

/** Where the line starting at `start` ends (its newline, or the end of `text`). */
function _lineEnd(text: string, start: number): number {
  const end = text.indexOf("\n", start);
  return end === -1 ? text.length : end;
}

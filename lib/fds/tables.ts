/**
 * The socket tables of every network namespace a scan meets, each read once
 * and only as far as needed: which sockets a query names (its targets), and
 * what the socket fds to be shown are. Socket inodes are unique across
 * namespaces, so one map by inode serves all.
 *
 * @module
 */

import { namespaceOf } from "../procfs/namespaces.ts";
import { type InetSocket, isUnixListener, type PortRange } from "../procfs/net.ts";
import { getxattrText } from "../sys/libc.ts";
import {
  isAddressSocket,
  isListening,
  type NetnsSource,
  readInetSockets,
  readNetlinkSockets,
  readPacketSockets,
  readRawSockets,
  readUnixOwners,
  readUnixSockets,
  type SocketInfo,
} from "./sockets.ts";

/** The sockets a query names. */
export interface SocketSelection {
  /** Port ranges (local or remote port); empty: any port. */
  ports: PortRange[];
  protocols: ("tcp" | "udp")[];
  /** Listeners only (TCP LISTEN, UDP bound and unconnected, unix: see `isUnixListener`). */
  listening: boolean;
  /** Whether TCP/UDP sockets are selected at all. */
  inet: boolean;
  /** Unix socket paths (as given and resolved). */
  unixPaths: string[];
  /** Directories (as given and resolved): unix sockets bound to a path below one of them. */
  unixDirs: string[];
  /** Every unix socket (that passes `listening`), whatever its path. */
  anyUnix: boolean;
}

/** sock_diag tables by the protocol names sockets give (`system.sockprotoname`). */
const _INET_TABLES: Record<string, [InetSocket["protocol"], InetSocket["family"]]> = {
  TCP: ["tcp", "ipv4"],
  TCPv6: ["tcp", "ipv6"],
  UDP: ["udp", "ipv4"],
  UDPv6: ["udp", "ipv6"],
};
/** Up to this many sockets, ask each for its protocol and read only the tables needed. */
const _PROBE_MAX = 256;

/** Socket tables by namespace. */
export class SocketTables {
  /** Every socket looked up so far, by inode. */
  readonly byInode = new Map<number, SocketInfo>();
  /** The reader's own network namespace (`net:[N]`). */
  readonly own = namespaceOf("self", "net") ?? "";
  /** For each socket found in another network namespace than the reader's: that one's N. */
  readonly foreignNetns = new Map<number, number>();
  #searched = new Set<string>();
  /** Where each target was found, to read it again. */
  #sources = new Map<number, NetnsSource>();
  #namespaces = new Map<number, string | null>();

  /**
   * The inodes of the sockets `selection` names in namespace `namespace` (read
   * through `source`); [] when that namespace was searched already.
   */
  targets(selection: SocketSelection, namespace: string, source: NetnsSource): number[] {
    if (this.#searched.has(namespace)) return [];
    this.#searched.add(namespace);
    const targets: number[] = [];
    if (selection.inet) {
      const ports = selection.ports.length > 0 ? selection.ports : [undefined];
      for (const range of ports) {
        const filter = {
          protocols: selection.protocols,
          ports: range,
          listening: selection.listening,
        };
        for (const socket of readInetSockets(source, filter)) {
          if (socket.inode === 0) continue; // TIME_WAIT or not accepted: nobody holds it
          this.#found({ kind: "inet", socket }, namespace);
          this.#sources.set(socket.inode, source);
          targets.push(socket.inode);
        }
      }
    }
    if (selection.unixPaths.length > 0 || selection.unixDirs.length > 0 || selection.anyUnix) {
      const [paths, dirs] = selection.anyUnix
        ? [undefined, undefined]
        : [selection.unixPaths, selection.unixDirs];
      const filter = { paths, dirs, listening: selection.listening };
      for (const socket of readUnixSockets(source, filter)) {
        this.#found({ kind: "unix", socket }, namespace);
        this.#sources.set(socket.inode, source);
        targets.push(socket.inode);
      }
    }
    return targets;
  }

  /**
   * Looks up the socket fds in `sockets` (flat `pid, fd, inode` triples) in the
   * tables of their namespaces. With few sockets, each is asked for its protocol
   * first so that only the tables needed are read, decoding only their rows.
   */
  load(sockets: number[]): void {
    const wanted = new Map<string, { pid: number; inodes: Set<number>; tables: Set<string> }>();
    const probed = new Map<number, string>();
    const probe = sockets.length / 3 <= _PROBE_MAX;
    for (let i = 0; i < sockets.length; i += 3) {
      const [pid, fd, inode] = sockets.slice(i, i + 3);
      if (this.byInode.has(inode)) continue;
      const namespace = this.#namespaceOf(pid);
      if (namespace === null) continue;
      const entry = wanted.get(namespace) ?? { pid, inodes: new Set(), tables: new Set() };
      wanted.set(namespace, entry);
      entry.inodes.add(inode);
      const protocol = probe ? getxattrText(`/proc/${pid}/fd/${fd}`, "system.sockprotoname") : null;
      if (protocol !== null) probed.set(inode, protocol);
      // Unix sockets name themselves UNIX, or UNIX-STREAM, UNIX-DGRAM… on newer kernels.
      const table = protocol?.startsWith("UNIX") ? "UNIX" : protocol;
      for (const name of table === null ? _ALL_TABLES : [table]) entry.tables.add(name);
    }
    for (const [namespace, entry] of wanted) {
      const source: NetnsSource = namespace === this.own
        ? { own: true }
        : { own: false, pid: entry.pid };
      for (const table of entry.tables) {
        if (table === "UNIX") {
          for (const socket of readUnixSockets(source, { inodes: entry.inodes })) {
            this.#found({ kind: "unix", socket }, namespace);
          }
        } else if (table in _INET_TABLES) {
          const [protocol, family] = _INET_TABLES[table];
          const filter = { protocols: [protocol], families: [family], inodes: entry.inodes };
          for (const socket of readInetSockets(source, filter)) {
            this.#found({ kind: "inet", socket }, namespace);
          }
        } else if (table === "RAW" || table === "RAWv6") {
          const family = table === "RAW" ? "ipv4" : "ipv6";
          for (const socket of readRawSockets(source, family, entry.inodes)) {
            this.#found({ kind: "raw", family, socket }, namespace);
          }
        } else if (table === "PACKET") {
          for (const socket of readPacketSockets(source, entry.inodes)) {
            this.#found({ kind: "packet", socket }, namespace);
          }
        } else if (table === "NETLINK") {
          for (const socket of readNetlinkSockets(source, entry.inodes)) {
            this.#found({ kind: "netlink", socket }, namespace);
          }
        }
      }
    }
    // In no table (an unbound netlink or TCP socket…): lsof names the protocol.
    for (const [inode, protocol] of probed) {
      if (!this.byInode.has(inode)) this.byInode.set(inode, { kind: "other", protocol });
    }
  }

  /**
   * Which of the targets `inodes` are still in their tables, read again now: a
   * socket closed since it was looked up is held by nobody any more. The unix
   * ones that are open are looked up anew, with their owners where sock_diag
   * tells them (see {@linkcode readUnixOwners}).
   */
  stillOpen(inodes: Iterable<number>): Set<number> {
    const groups = new Map<
      string,
      { source: NetnsSource; found: SocketInfo; inodes: Set<number> }
    >();
    for (const inode of inodes) {
      const found = this.byInode.get(inode), source = this.#sources.get(inode);
      if (found === undefined || !isAddressSocket(found) || !source) continue;
      const table = found.kind === "inet"
        ? `${found.socket.protocol} ${found.socket.family}`
        : "unix";
      const key = `${source.own ? "own" : source.pid} ${table}`;
      const group = groups.get(key) ?? { source, found, inodes: new Set() };
      groups.set(key, group);
      group.inodes.add(inode);
    }
    const open = new Set<number>();
    for (const { source, found, inodes } of groups.values()) {
      if (found.kind === "inet") {
        const { protocol, family } = found.socket;
        const filter = { protocols: [protocol], families: [family], inodes };
        for (const again of readInetSockets(source, filter)) open.add(again.inode);
      } else {
        for (const again of readUnixOwners(source, inodes)) {
          // The kernel address (DEVICE) is /proc/net/unix's alone: kept from the first look-up.
          const before = this.byInode.get(again.inode);
          if (before?.kind === "unix") {
            this.byInode.set(again.inode, { kind: "unix", socket: { ...before.socket, ...again } });
          }
          open.add(again.inode);
        }
      }
    }
    return open;
  }

  /**
   * Whether the socket with `inode` listens, as far as loaded: as `--listen` counts
   * it (TCP LISTEN, UDP bound and unconnected, a unix listener or datagram server).
   */
  isListener(inode: number): boolean {
    const found = this.byInode.get(inode);
    if (found?.kind === "inet") return isListening(found.socket);
    return found?.kind === "unix" && isUnixListener(found.socket);
  }

  /** Records a socket found in the tables of `namespace`. */
  #found(info: Exclude<SocketInfo, { kind: "other" }>, namespace: string): void {
    this.byInode.set(info.socket.inode, info);
    if (namespace !== this.own) {
      this.foreignNetns.set(info.socket.inode, Number(/\[(\d+)\]/.exec(namespace)?.[1] ?? 0));
    }
  }

  #namespaceOf(pid: number): string | null {
    if (!this.#namespaces.has(pid)) this.#namespaces.set(pid, namespaceOf(pid, "net"));
    return this.#namespaces.get(pid)!;
  }
}

const _ALL_TABLES = [...Object.keys(_INET_TABLES), "UNIX", "RAW", "RAWv6", "PACKET", "NETLINK"];

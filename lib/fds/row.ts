/**
 * One row of `opsd fds`: an open fd of a process (or its cwd, root directory,
 * executable, or a `NOFD` line when its fds cannot be read) with lsof's columns,
 * plus the close-on-exec flag lsof does not show.
 *
 * @module
 */

import type { InetSocket, UnixSocket } from "../procfs/net.ts";

/** The process a row belongs to. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** The command name (`/proc/PID/stat`, at most 15 characters). */
  command: string;
  uid: number;
  user: string;
}

/** Why `--leaks` points at an fd. */
export interface Leak {
  /** `duplicate`, `inherited-listener` or `no-cloexec`. */
  kind: "duplicate" | "inherited-listener" | "no-cloexec";
  /** One sentence for people. */
  reason: string;
}

/** What a socket row is connected to, for `--json`. */
export type SocketDetail =
  | ({ kind: "inet"; state: string } & Omit<InetSocket, "state" | "uid">)
  | ({ kind: "unix" } & Omit<UnixSocket, "kernelAddress" | "uid" | "peer">);

/** One row, with lsof's columns and opsd's additions. */
export interface FdRow {
  /**
   * The holder's command name; null on the row of a socket found in the socket
   * tables that no process opsd could inspect holds (see {@linkcode isUnheld}).
   */
  command: string | null;
  /** The holder's pid; null when the holder is unknown, as for `command`. */
  pid: number | null;
  /**
   * The holder's user; for a socket whose holder is unknown, the socket's owner
   * (`?` when the tables do not tell it either).
   */
  user: string;
  /** The holder's uid, or the socket owner's as for `user`; null where `user` is `?`. */
  uid: number | null;
  /** `cwd`, `rtd`, `txt`, `NOFD`, or the fd number; null when the holder is unknown. */
  fd: string | null;
  /** The fd number; null for the cwd/rtd/txt/NOFD rows. */
  fdNumber: number | null;
  /** Access mode: `r`, `w`, `u` (read and write), or "" for cwd/rtd/txt/NOFD and an `O_PATH` fd. */
  mode: "r" | "w" | "u" | "";
  /** Lock: `R`/`W` read/write lock on the whole file, `r`/`w` on part, `u` both, or "". */
  lock: string;
  /** `REG`, `DIR`, `CHR`, `FIFO`, `IPv4`, `IPv6`, `unix`, `raw`, `raw6`, `pack`, `sock`, `a_inode`… */
  type: string;
  /** Close-on-exec (fdinfo flags); null where it does not apply (cwd/rtd/txt/NOFD). */
  cloexec: boolean | null;
  /** `major,minor`; the socket inode for IPv4/IPv6 and packet sockets; a unix socket's kernel address. */
  device: string;
  /** The size of regular files and directories, else the offset as `0t<offset>`. */
  sizeOff: string;
  /** The inode; `TCP`/`UDP` for IPv4/IPv6 sockets, the Ethernet protocol for packet sockets. */
  node: string;
  /** Path, socket addresses and state, `pipe`, `[eventfd:N]`… */
  name: string;
  /**
   * For a socket of another network namespace than opsd's (a container's): that
   * namespace's number (N of `net:[N]`); null otherwise. Its ports are not opsd's.
   */
  netns: number | null;
  /** The socket's inode and endpoints, for socket rows. */
  socket?: SocketDetail & { inode: number };
  /** Why `--leaks` reports this fd. */
  leaks?: Leak[];
}

// Mapped files (mem, DEL) follow txt in the order of the maps, as in lsof.
const _SPECIAL_ORDER: Record<string, number> = {
  cwd: -5,
  rtd: -4,
  txt: -3,
  mem: -2,
  DEL: -2,
  NOFD: -1,
};

/**
 * A row whose holder is unknown: a socket in the kernel's tables that no process
 * opsd could inspect holds (another user's, without root; one in another pid
 * namespace; the kernel's own; one in flight between processes).
 */
export function isUnheld(row: FdRow): boolean {
  return row.pid === null;
}

/**
 * Orders rows as lsof does: by pid, then cwd, rtd, txt, NOFD, then fds by
 * number; rows whose holder is unknown come last, by name.
 */
export function compareRows(a: FdRow, b: FdRow): number {
  if (a.pid === null || b.pid === null) {
    return a.pid === b.pid ? _compareText(a.name, b.name) : a.pid === null ? 1 : -1;
  }
  return a.pid - b.pid || _rank(a) - _rank(b);
}

function _rank(row: FdRow): number {
  return row.fdNumber ?? _SPECIAL_ORDER[row.fd ?? ""] ?? 0;
}

function _compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Turns what the walk found (an fd number and its link text) into a row with
 * lsof's columns: mode and lock letters from fdinfo, type, device, size and
 * inode from `statx` of the `/proc` link (never for files on network or FUSE
 * filesystems, see `mounts.ts`), socket names from the socket tables.
 *
 * @module
 */

import { type FdInfo, type FdLock, O_CLOEXEC, readFdInfo } from "../procfs/fdinfo.ts";
import { errnoText, isErrno, STATX, type Statx, statxAt } from "../sys/libc.ts";
import { SysError } from "../sys/errno.ts";
import { O } from "../sys/constants.ts";
import { type InetSocket, TCP_STATES, type UnixSocket } from "../procfs/net.ts";
import { type MappedFile, mappedFileId } from "../procfs/maps.ts";
import { splitDeleted } from "../procfs/deleted.ts";
import { userName } from "../procfs/users.ts";
import { readLinkName } from "../procfs/links.ts";
import { isNetworkFs, type MountLookup } from "./mounts.ts";
import type { FdRow, ProcessInfo } from "./row.ts";
import { type FileId, fileId } from "./paths.ts";
import {
  type AddressSocket,
  inetName,
  netlinkName,
  packetName,
  packetProtocolName,
  rawName,
  type SocketInfo,
  unixName,
} from "./sockets.ts";

/** What describing needs besides the fd itself. */
export interface DescribeContext {
  /** Every socket found in the tables of the namespaces involved, by inode. */
  sockets: Map<number, SocketInfo>;
  /** The network namespace (N of `net:[N]`) of the sockets found in another one than opsd's. */
  netns: ReadonlyMap<number, number>;
  mounts: MountLookup;
  /**
   * Whether fd targets may be stat'ed (`statx` with AT_STATX_DONT_SYNC). Port
   * queries never stat: their rows are sockets, described by the tables.
   */
  stat: boolean;
  /**
   * Reads `/proc/PID/exe` as `readLinkName` does (the `txt` row's
   * target), for a caller that reads it for other needs too and keeps it (see
   * `ProcessReads`); without it, the link is read here.
   */
  programLink?: (pid: number) => string;
}

/** A row of a process opsd inspected: its holder is known. */
type _HeldRow = FdRow & { command: string; pid: number; fd: string };

const _MODES = ["r", "w", "u", "u"] as const;

/** The row for fd `fd` of `process`, whose link reads `link`; null when the fd closed meanwhile. */
export function describeFd(
  process: ProcessInfo,
  fd: number,
  link: string,
  context: DescribeContext,
): FdRow | null {
  const info = readFdInfo(process.pid, fd);
  if (!info) return null;
  const row: _HeldRow = {
    command: process.command,
    pid: process.pid,
    user: process.user,
    uid: process.uid,
    fd: String(fd),
    fdNumber: fd,
    // An O_PATH fd can neither read nor write: no letter (lsof says u, from the link's mode 000).
    mode: info.flags & O.PATH ? "" : _MODES[info.flags & 3],
    lock: lockLetter(info.locks),
    type: "unknown",
    cloexec: (info.flags & O_CLOEXEC) !== 0,
    device: "",
    sizeOff: `0t${info.pos}`,
    node: String(info.ino),
    name: link,
    netns: null,
  };
  const socketInode = /^socket:\[(\d+)\]$/.exec(link);
  if (socketInode) return _describeSocket(row, Number(socketInode[1]), context);
  const stat = _statFd(row, info, context);
  if (stat === "gone") return null;
  if (link.startsWith("pipe:[")) row.name = "pipe";
  if (link.startsWith("anon_inode:")) row.name = _anonName(link.slice(11), info);
  return row;
}

/** The state of a TCP socket (`LISTEN`…); UDP has none, only `CONNECTED` or `UNCONNECTED`. */
function _stateName(socket: InetSocket): string {
  if (socket.protocol === "udp") return socket.remotePort === 0 ? "UNCONNECTED" : "CONNECTED";
  return TCP_STATES[socket.state] ?? String(socket.state);
}

/**
 * The letter lsof shows after the mode: `R`/`W` for a read/write lock on the
 * whole file, `r`/`w` on part of it, `u` for read and write locks, "" for none.
 * Leases are not locks and do not count.
 */
export function lockLetter(locks: FdLock[]): string {
  const held = locks.filter((lock) => lock.access === "READ" || lock.access === "WRITE");
  if (held.length === 0) return "";
  const accesses = new Set(held.map((lock) => lock.access));
  if (accesses.size > 1) return "u";
  const whole = held.some((lock) => lock.start === 0 && lock.end === null);
  const letter = accesses.has("WRITE") ? "w" : "r";
  return whole ? letter.toUpperCase() : letter;
}

function _describeSocket(row: _HeldRow, inode: number, context: DescribeContext): FdRow {
  row.node = String(inode);
  row.netns = context.netns.get(inode) ?? null;
  const found = context.sockets.get(inode);
  if (found?.kind === "inet") {
    _describeInet(row, found.socket);
  } else if (found?.kind === "unix") {
    _describeUnix(row, found.socket);
  } else if (found?.kind === "raw") {
    // As lsof: no DEVICE, the inode as NODE, the table's addresses and state.
    row.type = found.family === "ipv6" ? "raw6" : "raw";
    row.name = rawName(found.socket);
  } else if (found?.kind === "packet") {
    // As lsof: the inode as DEVICE, the Ethernet protocol as NODE.
    row.type = "pack";
    row.device = String(inode);
    row.node = packetProtocolName(found.socket);
    row.name = packetName(found.socket);
  } else if (found?.kind === "netlink") {
    // As lsof: no DEVICE, the inode as NODE, the protocol as NAME.
    row.type = "netlink";
    row.name = netlinkName(found.socket);
  } else {
    row.type = "sock";
    if (context.stat) _statFd(row, null, context);
    row.name = found ? `protocol: ${found.protocol}` : "can't identify protocol";
  }
  return row;
}

/** Fills a TCP/UDP socket's columns from its entry in the socket tables. */
function _describeInet(row: FdRow, found: InetSocket): void {
  const { uid: _uid, state: _state, ...socket } = found;
  row.type = socket.family === "ipv4" ? "IPv4" : "IPv6";
  row.device = String(socket.inode);
  row.node = socket.protocol.toUpperCase();
  row.name = inetName(found);
  row.socket = { kind: "inet", ...socket, state: _stateName(found) };
}

/** Fills a unix socket's columns from its entry in the socket tables. */
function _describeUnix(row: FdRow, found: UnixSocket): void {
  const { kernelAddress, uid: _uid, peer: _peer, ...socket } = found;
  row.type = "unix";
  row.device = kernelAddress;
  row.node = String(socket.inode);
  row.name = unixName(found);
  row.socket = { kind: "unix", ...socket };
}

/**
 * The row of a socket in the socket tables that no process opsd could inspect
 * holds: COMMAND, PID and FD unknown (null), USER the socket's owner as the
 * tables give it (known without root, as `ss -e` shows it; `?` and uid null
 * when they do not: see `readUnixOwners` in `sockets.ts`), and the socket's
 * columns as on any socket row. Mode, offset and close-on-exec belong to an fd
 * and stay empty. `netns` is the socket's network namespace when not opsd's.
 */
export function unheldSocketRow(
  found: AddressSocket,
  netns: number | null = null,
): FdRow {
  const uid = found.socket.uid;
  const owner = { command: null, pid: null, user: uid === null ? "?" : userName(uid), uid };
  const row = { ..._rowWithoutFd(owner, null, "unknown", ""), netns };
  if (found.kind === "inet") _describeInet(row, found.socket);
  else _describeUnix(row, found.socket);
  return row;
}

/**
 * Fills type, device, size and inode from `statx` of the fd's `/proc` link when
 * allowed, else from fdinfo and the mount table. Returns "gone" when the fd
 * closed meanwhile.
 */
function _statFd(row: _HeldRow, info: FdInfo | null, context: DescribeContext): "gone" | void {
  // Pipes, sockets and anon inodes live on internal mounts that mountinfo does not list.
  const mount = info && row.name.startsWith("/")
    ? context.mounts.byId(info.mntId, row.pid)
    : undefined;
  if (mount) row.device = mount.device.replace(":", ",");
  if (mount && isNetworkFs(mount.fsType)) {
    row.name += ` (${mount.fsType} ${mount.source})`;
    return;
  }
  if (!context.stat) return;
  const stat = _statx(`/proc/${row.pid}/fd/${row.fd}`, row);
  if (stat === "gone") return "gone";
  if (stat) _applyStat(row, stat);
}

/** `statx` of a /proc link, or "gone", or null with the reason added to NAME as lsof does. */
function _statx(path: string, row: FdRow): Statx | "gone" | null {
  try {
    return statxAt(-100, path, STATX.DONT_SYNC);
  } catch (error) {
    if (isErrno(error, "ENOENT", "ESRCH")) return "gone";
    if (error instanceof SysError) {
      row.name += ` (stat: ${errnoText(error.errno)})`;
      return null;
    }
    throw error;
  }
}

/** Fills TYPE, DEVICE and NODE from a statx (see `fileId`), and SIZE where a file has one. */
function _applyStat(row: FdRow, stat: Statx): void {
  const id = fileId(stat);
  [row.type, row.device, row.node] = [id.type, id.device, String(id.ino)];
  if (!["CHR", "BLK", "FIFO", "sock"].includes(row.type)) row.sizeOff = String(id.size);
}

/** lsof's names for anon inodes: `[eventfd:ID]`, `[eventpoll:3,4]`, `[pidfd:PID]`, else as linked. */
function _anonName(kind: string, info: FdInfo): string {
  if (kind === "[eventfd]" && info.eventfdId !== null) return `[eventfd:${info.eventfdId}]`;
  if (kind === "[pidfd]" && info.pidfdPid !== null) return `[pidfd:${info.pidfdPid}]`;
  if (kind === "[eventpoll]" && info.watchedFds.length > 0) {
    const fds = [...info.watchedFds].sort((a, b) => a - b);
    return `[eventpoll:${fds.join(",")}]`;
  }
  return kind;
}

/** Which special row: the working directory, the root directory, or the program (text). */
export type SpecialFd = "cwd" | "rtd" | "txt";

const _SPECIAL_LINKS: Record<SpecialFd, string> = { cwd: "cwd", rtd: "root", txt: "exe" };

/**
 * What the cwd, rtd or txt link of process `pid` names, as its row names it
 * (through `context.programLink` for the program); throws readlink's SysError
 * (`ENOENT`: gone, or a kernel thread's program; `EACCES`: not ours to read).
 */
export function specialTarget(
  pid: number,
  fd: SpecialFd,
  context: Pick<DescribeContext, "programLink">,
): string {
  return fd === "txt" && context.programLink
    ? context.programLink(pid)
    : readLinkName(`/proc/${pid}/${_SPECIAL_LINKS[fd]}`);
}

/**
 * The cwd, rtd or txt row of `process`, or null when the process is gone. An
 * unreadable link gives lsof's `(readlink: Permission denied)` row. Nothing on
 * a network or FUSE filesystem is stat'ed: there the program's device and inode
 * come from the process's maps, and a cwd or root directory has no inode.
 * `wanted`, when given, picks by the link's target: one it refuses gives null
 * at once, nothing looked up or stat'ed (a query that matches by name alone).
 */
export function describeSpecial(
  process: ProcessInfo,
  fd: SpecialFd,
  context: DescribeContext,
  wanted?: (target: string) => boolean,
): FdRow | null {
  const path = `/proc/${process.pid}/${_SPECIAL_LINKS[fd]}`;
  const row = _rowWithoutFd(process, fd, "unknown", path) as _HeldRow;
  let target: string;
  try {
    target = specialTarget(process.pid, fd, context);
  } catch (error) {
    const gone = isErrno(error, "ENOENT");
    if (gone && fd !== "txt") return null;
    // A kernel thread has no executable: lsof shows the bare link path.
    if (!gone) row.name += ` (readlink: ${_reason(error)})`;
    return row;
  }
  if (wanted && !wanted(target)) return null;
  row.name = target;
  const mount = context.mounts.forPath(process.pid, splitDeleted(target).path);
  if (mount) row.device = mount.device.replace(":", ",");
  if (mount && isNetworkFs(mount.fsType)) {
    const mapped = fd === "txt" ? mappedFileId(process.pid, target) : null;
    if (mapped) [row.device, row.node] = [mapped.device.join(","), String(mapped.inode)];
    return row;
  }
  if (!context.stat) return row;
  const stat = _statx(path, row);
  if (stat === "gone") return null;
  if (stat) _applyStat(row, stat);
  return row;
}

/**
 * The row lsof shows for a file `process` has mapped into memory (a library, a
 * mapped data file) rather than open: FD `mem`, or `DEL` when the file was
 * removed (NAME without ` (deleted)`, SIZE/OFF empty, as lsof shows it). When
 * it is the file named (`named`, same device and inode), its TYPE, DEVICE and
 * SIZE are that file's (a device file's own device, as lsof shows it); else
 * (a removed file matched by name) it shows what the maps tell: a `REG` file,
 * its filesystem's device. Nothing is stat'ed.
 */
export function mappedFileRow(
  process: ProcessInfo,
  file: MappedFile,
  named: FileId | null,
): FdRow {
  const { path, deleted } = splitDeleted(file.path);
  const row = _rowWithoutFd(process, deleted ? "DEL" : "mem", named?.type ?? "REG", path);
  row.device = named?.device ?? file.device.join(",");
  row.node = String(file.inode);
  if (!deleted && named?.type === "REG") row.sizeOff = String(named.size);
  return row;
}

/** The `NOFD` row lsof shows when a process's fd directory cannot be read. */
export function noFdRow(process: ProcessInfo, errno: number): FdRow {
  const name = `/proc/${process.pid}/fd (opendir: ${errnoText(errno)})`;
  return _rowWithoutFd(process, "NOFD", "", name);
}

/**
 * The row lsof shows for an fd whose link cannot be read (root without
 * CAP_SYS_PTRACE, another user's process): the fd number, TYPE unknown, and
 * `/proc/PID/fd/FD (readlink: Permission denied)` as NAME. Its fdinfo is as
 * unreadable: mode, lock and close-on-exec stay empty.
 */
export function unreadableFdRow(process: ProcessInfo, fd: number, errno: number): FdRow {
  const name = `/proc/${process.pid}/fd/${fd} (readlink: ${errnoText(errno)})`;
  return { ..._rowWithoutFd(process, String(fd), "unknown", name), fdNumber: fd };
}

/**
 * A row that stands for no open fd, or one opsd cannot read (a special link, an
 * unreadable fd directory or link, a socket whose holder is unknown): the
 * owner's columns, and the fd-only ones (mode, lock, close-on-exec, offset) empty.
 */
function _rowWithoutFd(
  owner: Pick<FdRow, "command" | "pid" | "user" | "uid">,
  fd: string | null,
  type: string,
  name: string,
): FdRow {
  const { command, pid, user, uid } = owner;
  return {
    command,
    pid,
    user,
    uid,
    fd,
    fdNumber: null,
    mode: "",
    lock: "",
    type,
    cloexec: null,
    device: "",
    sizeOff: "",
    node: "",
    name,
    netns: null,
  };
}

function _reason(error: unknown): string {
  if (error instanceof SysError) return errnoText(error.errno);
  return error instanceof Error ? error.message : String(error);
}

/**
 * What a `--path` argument names, from one `statx` with `AT_STATX_DONT_SYNC`
 * (a network filesystem answers from its cache instead of asking its server;
 * never a plain stat): the file's identity, to match fds open on it under
 * another name and the mappings of it, whether it can be mapped at all, and
 * whether it is a unix socket file, which no fd is open on but sockets are
 * bound to. A symlink given is followed, for a socket file as
 * for any other: `--path` matches fd names with symlinks resolved. Rows of
 * files stat'ed show the same identity (`fileId`: type, device, inode).
 *
 * @module
 */

import { isErrno, STATX, type Statx, statxAt } from "../sys/libc.ts";
import { resolvePath } from "../path.ts";

const _S_IFMT = 0o170000, _S_IFCHR = 0o020000, _S_IFBLK = 0o060000, _S_IFREG = 0o100000;

/** lsof's TYPE of a file, by the type bits of its mode (`0o100644` is `REG`). */
export function fileType(mode: number): string {
  const type = mode & _S_IFMT;
  return _TYPES[type] ?? (type >> 12).toString(8).padStart(4, "0");
}

const _TYPES: Record<number, string> = {
  0o140000: "sock",
  0o120000: "LINK",
  0o100000: "REG",
  0o060000: "BLK",
  0o040000: "DIR",
  0o020000: "CHR",
  0o010000: "FIFO",
  0: "a_inode",
};

/** A file's identity as rows show it: its device (`8,1`; a device file's own, rdev) and inode. */
export interface FileId {
  device: string;
  ino: number;
  /** Its size in bytes (what a `mem` row of it shows). */
  size: number;
  /** Its TYPE as rows show it (`REG`, `CHR`…). */
  type: string;
  /**
   * The device a process's maps show for it once mapped (`254,0`: its
   * filesystem's, a device file's too), or null when it cannot be mapped: only
   * regular files and device files (a GPU's, `/dev/mem`) can, never a
   * directory, a FIFO or a socket.
   */
  mapDevice: string | null;
}

/**
 * A file's identity from its `statx`, as rows show it: a device file shows its
 * own device (rdev), as lsof shows it; any other file, its filesystem's.
 */
export function fileId(stat: Statx): FileId {
  const type = stat.mode & _S_IFMT;
  const isDevice = type === _S_IFCHR || type === _S_IFBLK;
  return {
    device: (isDevice ? stat.rdev : stat.dev).join(","),
    ino: stat.ino,
    size: stat.size,
    type: fileType(stat.mode),
    mapDevice: isDevice || type === _S_IFREG ? stat.dev.join(",") : null,
  };
}

/**
 * What a path names: a file; "missing" when there is none (only fds on it
 * as "(deleted)" can name it); null when it cannot be stat'ed (a directory on
 * the way is closed to opsd…).
 */
export type NamedFile = FileId | "missing" | null;

/** What `path` names (symlinks followed), from one statx that does not sync. */
export function namedFile(path: string): NamedFile {
  try {
    return fileId(statxAt(-100, path, STATX.DONT_SYNC));
  } catch (error) {
    return isErrno(error, "ENOENT", "ENOTDIR") ? "missing" : null;
  }
}

/** Whether `file` is a unix socket file. */
export function isSocketFile(file: NamedFile): boolean {
  return file !== null && file !== "missing" && file.type === "sock";
}

/**
 * Whether `file` may be mapped into a process's memory: a regular or device
 * file, or one not known (missing: a removed file may still be mapped).
 */
export function mayBeMapped(file: NamedFile): boolean {
  return file === null || file === "missing" || file.mapDevice !== null;
}

/**
 * `path` as the kernel names fds open on it: absolute, symlinks resolved while it
 * exists (else only `.` and `..`, as a removed file's last name).
 */
export function kernelPath(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return resolvePath(path);
  }
}

/**
 * What a `--path` argument names, from one `statx` with `AT_STATX_DONT_SYNC`
 * (a network filesystem answers from its cache instead of asking its server;
 * never a plain stat): the file's identity, to match fds open on it under
 * another name, and whether it is a unix socket file, which no fd is open on
 * but sockets are bound to. A symlink given is followed, for a socket file as
 * for any other: `--path` matches fd names with symlinks resolved.
 *
 * @module
 */

import { isErrno, STATX, statxAt } from "../sys/libc.ts";

const _S_IFMT = 0o170000, _S_IFSOCK = 0o140000, _S_IFCHR = 0o020000, _S_IFBLK = 0o060000;

/** A file's identity as rows show it: its device (`8,1`; a device file's own, rdev) and inode. */
export interface FileId {
  device: string;
  ino: number;
  /** Its size in bytes (what a `mem` row of it shows). */
  size: number;
}

/**
 * What a path names: a file (and whether it is a unix socket file);
 * "missing" when there is none (only fds on it as "(deleted)" can name it);
 * null when it cannot be stat'ed (a directory on the way is closed to opsd…).
 */
export type NamedFile = (FileId & { socket: boolean }) | "missing" | null;

/** What `path` names (symlinks followed), from one statx that does not sync. */
export function namedFile(path: string): NamedFile {
  try {
    const stat = statxAt(-100, path, STATX.DONT_SYNC);
    // Rows show a device file's own device (rdev), as lsof does: compare the same.
    const type = stat.mode & _S_IFMT;
    const isDevice = type === _S_IFCHR || type === _S_IFBLK;
    const device = (isDevice ? stat.rdev : stat.dev).join(",");
    return { device, ino: stat.ino, size: stat.size, socket: type === _S_IFSOCK };
  } catch (error) {
    return isErrno(error, "ENOENT", "ENOTDIR") ? "missing" : null;
  }
}

/** Whether `file` is a unix socket file. */
export function isSocketFile(file: NamedFile): boolean {
  return file !== null && file !== "missing" && file.socket;
}

/** The paths among `paths` that name unix socket files (a symlink to one too). */
export function socketFiles(paths: string[]): string[] {
  return paths.filter((path) => isSocketFile(namedFile(path)));
}

/**
 * Whether a process holds a given file open, from the links in `/proc/PID/fd`:
 * how opsd tells the process a pidfile names from a later one that got its pid;
 * and which processes hold a lock on it, from their fdinfo.
 *
 * @module
 */

import { type FdLock, readFdInfo } from "./fdinfo.ts";
import { isProcessGone } from "./gone.ts";
import { isLockOn } from "./locks.ts";
import { listPids } from "./pids.ts";

/** A file's identity: its device and inode (`Deno.FileInfo.dev` / `.ino`). */
export interface FileIdentity {
  dev: number;
  ino: number;
}

/**
 * Whether `pid` has an fd open on `file`, looking at fd `first` before the rest
 * (a daemon's pidfile lock fd is 3). False when the process is gone; throws
 * `Deno.errors.PermissionDenied` when its fds cannot be read (another user's, not root).
 */
export function processHoldsFile(pid: number, file: FileIdentity, first?: number): boolean {
  const fdDir = `/proc/${pid}/fd`;
  if (first !== undefined && _isFile(`${fdDir}/${first}`, file)) return true;
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(fdDir)];
  } catch (error) {
    if (isProcessGone(error)) return false;
    throw error;
  }
  return entries.some((entry) => _isFile(`${fdDir}/${entry.name}`, file));
}

/**
 * The pids of the processes that hold a lock over byte `byte` of `file` through
 * one of their fds (an OFD or flock lock of that open file, a POSIX lock of the
 * process), as their fdinfo shows it; every process sharing the locked open file
 * is one. Processes whose fds cannot be read (another user's, not root) are not
 * seen.
 *
 * @example
 * ```ts
 * lockHolders({ dev, ino }); // [4242]: the daemon holding the pidfile's lock
 * ```
 */
export function lockHolders(file: FileIdentity, byte = 0): number[] {
  const covers = (lock: FdLock) =>
    isLockOn(lock, file) && lock.start <= byte && (lock.end === null || lock.end >= byte);
  return listPids().filter((pid) => {
    let fds: Deno.DirEntry[];
    try {
      fds = [...Deno.readDirSync(`/proc/${pid}/fdinfo`)];
    } catch (error) {
      if (isProcessGone(error) || error instanceof Deno.errors.PermissionDenied) return false;
      throw error;
    }
    return fds.some((fd) => readFdInfo(pid, Number(fd.name))?.locks.some(covers));
  });
}

function _isFile(link: string, file: FileIdentity): boolean {
  try {
    const info = Deno.statSync(link);
    return info.ino === file.ino && info.dev === file.dev;
  } catch (error) {
    if (isProcessGone(error)) return false;
    throw error;
  }
}

/**
 * Whether a process holds a given file open, from the links in `/proc/PID/fd`:
 * how opsd tells the process a pidfile names from a later one that got its pid.
 *
 * @module
 */

import { isProcessGone } from "./gone.ts";

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

function _isFile(link: string, file: FileIdentity): boolean {
  try {
    const info = Deno.statSync(link);
    return info.ino === file.ino && info.dev === file.dev;
  } catch (error) {
    if (isProcessGone(error)) return false;
    throw error;
  }
}

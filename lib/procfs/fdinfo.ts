/**
 * `/proc/PID/fdinfo/N`: an fd's offset, open flags, mount, inode and the locks
 * held through it, without touching the file itself.
 *
 * @module
 */

import { isProcessGone } from "./gone.ts";
import { type LockEntry, parseLockLine } from "./locks.ts";

/** A lock from an fdinfo `lock:` line (the same format as `/proc/locks`). */
export type FdLock = LockEntry;

/** What fdinfo says about an fd. */
export interface FdInfo {
  /** The file offset. */
  pos: number;
  /** The open flags (octal in the file): access mode in the low 2 bits, `O_CLOEXEC` 0o2000000. */
  flags: number;
  /** The mount the file is on (the first field of `/proc/PID/mountinfo`). */
  mntId: number;
  /** The file's inode number. */
  ino: number;
  /** Locks held through this fd (POSIX locks of this process, flock and OFD locks of this open file). */
  locks: FdLock[];
  /** For an epoll fd: the fds it watches (`tfd:` lines). */
  watchedFds: number[];
  /** For an eventfd: its id (`eventfd-id:`). */
  eventfdId: number | null;
  /** For a pidfd: the pid it refers to (`Pid:`). */
  pidfdPid: number | null;
}

/** The close-on-exec bit of fdinfo's `flags:`. */
export const O_CLOEXEC = 0o2000000;

/** Parses the text of `/proc/PID/fdinfo/N`. */
export function parseFdInfo(text: string): FdInfo {
  const info: FdInfo = {
    pos: 0,
    flags: 0,
    mntId: -1,
    ino: 0,
    locks: [],
    watchedFds: [],
    eventfdId: null,
    pidfdPid: null,
  };
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const key = line.slice(0, colon), value = line.slice(colon + 1).trim();
    if (key === "pos") info.pos = Number(value);
    else if (key === "flags") info.flags = parseInt(value, 8);
    else if (key === "mnt_id") info.mntId = Number(value);
    else if (key === "ino") info.ino = Number(value);
    else if (key === "lock") {
      const lock = parseLockLine(value);
      if (lock) info.locks.push(lock);
    } else if (key === "tfd") info.watchedFds.push(parseInt(value, 10));
    else if (key === "eventfd-id") info.eventfdId = Number(value);
    else if (key === "Pid") info.pidfdPid = Number(value);
  }
  return info;
}

/** The fdinfo of fd `fd` of `pid`, or null when the fd (or the process) is gone. */
export function readFdInfo(pid: number, fd: number): FdInfo | null {
  try {
    return parseFdInfo(Deno.readTextFileSync(`/proc/${pid}/fdinfo/${fd}`));
  } catch (error) {
    if (isProcessGone(error)) return null;
    throw error;
  }
}

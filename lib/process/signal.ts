/**
 * Signalling processes and sessions, each signal only to what it is meant for: a
 * target already gone is no error, and a pid named from a file goes through a
 * pidfd opened before the check, so a later process that got the same pid is
 * never hit.
 *
 * @module
 */

import { readProcStat } from "../procfs/stat.ts";
import { sessionMembers } from "../procfs/processes.ts";
import { close, isErrno, kill, pidfdOpen, pidfdSendSignal } from "../sys/libc.ts";

/**
 * Sends `signal` to `target` (a pid, or a negative process group), ignoring a
 * target that is already gone. Returns whether anything received it. For a child
 * (or group) of this process, whose pid cannot be reused before it is reaped.
 */
export function signalIfAlive(target: number, signal: number): boolean {
  try {
    kill(target, signal);
    return true;
  } catch (error) {
    if (isErrno(error, "ESRCH")) return false;
    throw error;
  }
}

/**
 * Sends `signal` to `pid` if `check()` (which looks at `/proc/PID/…`) holds, and
 * returns whether it was sent; false when the process is gone or fails the check.
 * The pidfd is opened before `check` runs and the signal goes through it, so a
 * signal that is sent reaches the very process that passed the check.
 */
export function signalIfStill(pid: number, signal: number, check: () => boolean): boolean {
  let pidfd: number;
  try {
    pidfd = pidfdOpen(pid);
  } catch (error) {
    if (isErrno(error, "ESRCH")) return false;
    throw error;
  }
  try {
    if (!check()) return false;
    pidfdSendSignal(pidfd, signal);
    return true;
  } catch (error) {
    if (isErrno(error, "ESRCH")) return false;
    throw error;
  } finally {
    close(pidfd);
  }
}

/**
 * Sends `signal` to every process of session `sid` (each checked through its own
 * pidfd to still be in it) and returns how many it reached. While any member
 * lives the session id is not reused, so no other session is hit. `members`: the
 * session as the caller has just listed it (else it is listed here).
 */
export function signalSession(
  sid: number,
  signal: number,
  members: readonly number[] = sessionMembers(sid),
): number {
  return members.filter((pid) => signalIfStill(pid, signal, () => readProcStat(pid)?.sid === sid))
    .length;
}

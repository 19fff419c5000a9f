/**
 * Finding processes in `/proc`: the children and descendants of a process, the
 * members of a session, and a process's identity (pid and start time), so that a
 * pid the kernel has handed out again is never taken for the process it named.
 *
 * @module
 */

import { isProcessGone } from "./gone.ts";
import { listPids } from "./pids.ts";
import { isLive, type ProcStat, readProcStat } from "./stat.ts";

/** A process named by pid and start time, so a reused pid is never mistaken for it. */
export interface ProcessId {
  pid: number;
  /** Start time in clock ticks after boot, from /proc/PID/stat. */
  procStart: number;
}

/** The children of `pid` (all its threads'), from /proc/PID/task/TID/children. */
export function childrenOf(pid: number | "self"): number[] {
  const children: number[] = [];
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        const text = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`);
        for (const field of text.split(" ")) if (field !== "") children.push(Number(field));
      } catch (error) {
        if (!isProcessGone(error)) throw error;
      }
    }
  } catch (error) {
    if (!isProcessGone(error)) throw error;
  }
  return children;
}

/** Every living descendant of `pid` (not `pid` itself), with start times. */
export function descendantsOf(pid: number): ProcessId[] {
  const found: ProcessId[] = [];
  const queue = childrenOf(pid);
  for (let child = queue.shift(); child !== undefined; child = queue.shift()) {
    const stat = readProcStat(child);
    if (!stat || !isLive(stat)) continue;
    found.push({ pid: child, procStart: stat.startTime });
    queue.push(...childrenOf(child));
  }
  return found;
}

/**
 * The pids of every live process whose session id is `sid`, the leader included:
 * what a daemon started (and did not move to a session of its own) stays in the
 * daemon's. A session id is not handed out again while any of its members lives,
 * so the answer names only processes of that one session. Processes that vanish
 * mid-scan are skipped.
 */
export function sessionMembers(sid: number): number[] {
  return _liveWhere((stat) => stat.sid === sid);
}

/**
 * The pids of every live process in process group `pgid`. Unlike `kill(-pgid, 0)`,
 * which also answers for zombies a parent has not reaped yet, it names only
 * processes a signal can still act on.
 */
export function groupMembers(pgid: number): number[] {
  return _liveWhere((stat) => stat.pgid === pgid);
}

/** The pids of every live process (see {@linkcode isLive}) whose stat matches. */
function _liveWhere(match: (stat: ProcStat) => boolean): number[] {
  const members: number[] = [];
  for (const pid of listPids()) {
    const stat = readProcStat(pid);
    if (stat && isLive(stat) && match(stat)) members.push(stat.pid);
  }
  return members;
}

/** Whether `process` still runs (same pid and start time, see {@linkcode isLive}). */
export function isRunning(process: ProcessId): boolean {
  const stat = readProcStat(process.pid);
  return stat !== null && isLive(stat) && stat.startTime === process.procStart;
}

/**
 * Whether `pid` is an ancestor of this process: its parent, or that one's, and so on
 * (a supervisor is one of whatever its service or `finish` starts, daemons included:
 * it is their subreaper).
 */
export function isAncestor(pid: number): boolean {
  let at = readProcStat("self")?.ppid ?? 0;
  // Bounded, in case of a loop seen mid-change (a parent that died and a pid reused).
  for (let steps = 0; at > 0 && steps < 4096; steps++) {
    if (at === pid) return true;
    at = readProcStat(at)?.ppid ?? 0;
  }
  return false;
}

/** The start time of `pid`, or null when it is gone. */
export function procStartOf(pid: number): number | null {
  return readProcStat(pid)?.startTime ?? null;
}

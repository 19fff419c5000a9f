/**
 * Finding and signalling a service's processes: its process group, its
 * descendants, and the orphans the kernel hands to the supervisor (a child
 * subreaper) when their parent dies.
 *
 * @module
 */

import { readProcStat } from "../procfs/stat.ts";
import { isErrno, kill } from "../sys/libc.ts";

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
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return children;
}

/** Every living descendant of `pid` (not `pid` itself), with start times. */
export function descendantsOf(pid: number): ProcessId[] {
  const found: ProcessId[] = [];
  const queue = childrenOf(pid);
  for (let child = queue.shift(); child !== undefined; child = queue.shift()) {
    const stat = readProcStat(child);
    if (!stat || stat.state === "Z") continue;
    found.push({ pid: child, procStart: stat.startTime });
    queue.push(...childrenOf(child));
  }
  return found;
}

/** Whether `process` still runs (same pid and start time, not a zombie). */
export function isRunning(process: ProcessId): boolean {
  const stat = readProcStat(process.pid);
  return stat !== null && stat.state !== "Z" && stat.startTime === process.procStart;
}

/** The start time of `pid`, or null when it is gone. */
export function procStartOf(pid: number): number | null {
  return readProcStat(pid)?.startTime ?? null;
}

/**
 * Sends `signal` to `target` (a pid, or a negative process group), ignoring a
 * target that is already gone. Returns whether anything received it.
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

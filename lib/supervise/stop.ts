/**
 * Stopping what is left of a service's process: its process group, the
 * descendants that left the group, and orphans handed to the supervisor that are
 * still in the service's session. A {@linkcode StopJob} describes one such stop.
 *
 * @module
 */

import { readProcStat } from "../procfs/stat.ts";
import { SIGNALS } from "../sys/constants.ts";
import { childrenOf, isRunning, type ProcessId, signalIfAlive } from "./processes.ts";

/** Processes being stopped: a stop the supervisor asked for, or what a dead main process left. */
export interface StopJob {
  /**
   * `down`, `restart`, `exit`: asked for; `ended`: the main process ended by itself;
   * `adopted`: processes left by a supervisor that died.
   */
  reason: "down" | "restart" | "exit" | "ended" | "adopted";
  /** The process group (and session) of the service's process. */
  pgid: number;
  /** Descendants seen when the stop began (some may have left the group). */
  tree: ProcessId[];
  /** When KILL is due (ms); null until the stop signal has been sent. */
  killAt: number | null;
  /** KILL has been sent. */
  killed: boolean;
  /** When the stop began (ms). */
  since: number;
}

/** A stop of group `pgid`, whose known members are `tree`, not yet signalled. */
export function newStopJob(reason: StopJob["reason"], pgid: number, tree: ProcessId[]): StopJob {
  return { reason, pgid, tree, killAt: null, killed: false, since: Date.now() };
}

/**
 * What of the job's processes still runs: the group (as `-pgid`), descendants
 * seen when it began, and the supervisor's children in its session that
 * `owned` does not claim (orphans handed over by the kernel).
 */
export function leftovers(job: StopJob, owned: (pid: number) => boolean): number[] {
  const left = new Set<number>();
  if (signalIfAlive(-job.pgid, 0)) left.add(-job.pgid);
  for (const process of job.tree) if (isRunning(process)) left.add(process.pid);
  for (const child of childrenOf("self")) {
    if (owned(child)) continue;
    const stat = readProcStat(child);
    if (stat && stat.state !== "Z" && stat.sid === job.pgid) left.add(child);
  }
  return [...left];
}

/**
 * Sends `signal` to the job's group, its living descendants and `pids` (pids, or
 * `-pgid` for groups), each followed by CONT so that stopped processes act on it.
 */
export function signalAll(job: StopJob, signal: number, pids: number[]): void {
  const targets = new Set([-job.pgid, ...pids, ...job.tree.filter(isRunning).map((p) => p.pid)]);
  for (const target of targets) {
    signalIfAlive(target, signal);
    if (signal !== SIGNALS.SIGKILL) signalIfAlive(target, SIGNALS.SIGCONT);
  }
}

/**
 * Stopping what is left of a service's process: its process group, the
 * descendants that left the group, and the orphans handed to the supervisor that
 * were attributed to the service (also those that left its session). A
 * {@linkcode StopJob} describes one such stop.
 *
 * @module
 */

import { SIGNALS } from "../sys/constants.ts";
import { signalIfAlive } from "../process/signal.ts";
import { groupMembers, isRunning, type ProcessId } from "../procfs/processes.ts";

/** Processes being stopped: a stop the supervisor asked for, or what a dead main process left. */
export interface StopJob {
  /**
   * `down`, `restart`, `exit`: asked for; `ended`: the main process ended by itself;
   * `adopted`: processes left by a supervisor that died; `orphans`: orphans of the
   * service that reached the supervisor while nothing of the service ran.
   */
  reason: "down" | "restart" | "exit" | "ended" | "adopted" | "orphans";
  /** The process group (and session) of the service's process, or null for orphans alone. */
  pgid: number | null;
  /** Descendants and orphans of the service known so far (some may have left the group). */
  tree: ProcessId[];
  /** When KILL is due (ms); null until the stop signal has been sent. */
  killAt: number | null;
  /** KILL has been sent. */
  killed: boolean;
  /** When the stop began (ms). */
  since: number;
}

/** A stop of group `pgid` (null: no group), whose known members are `tree`, not yet signalled. */
export function newStopJob(
  reason: StopJob["reason"],
  pgid: number | null,
  tree: ProcessId[],
): StopJob {
  return { reason, pgid, tree, killAt: null, killed: false, since: Date.now() };
}

/**
 * What of the job's processes still runs: the group (as `-pgid`) and the known
 * members. A group that answers `kill(-pgid, 0)` while no known member runs is
 * looked up in /proc: zombies answer too, and those of a parent that does not
 * reap them (what a killed supervisor left is now another process's) would hold
 * the stop until KILL and its grace, and then be reported as surviving KILL.
 */
export function leftovers(job: StopJob): number[] {
  const members = job.tree.filter(isRunning).map((process) => process.pid);
  const group = job.pgid !== null && signalIfAlive(-job.pgid, 0) &&
    (members.length > 0 || groupMembers(job.pgid).length > 0);
  return [...new Set([...(group ? [-job.pgid!] : []), ...members])];
}

/**
 * Sends `signal` to the job's group, its living members and `pids` (pids, or
 * `-pgid` for groups), each followed by CONT so that stopped processes act on it.
 */
export function signalAll(job: StopJob, signal: number, pids: number[]): void {
  const members = job.tree.filter(isRunning).map((process) => process.pid);
  signalEach([...(job.pgid === null ? [] : [-job.pgid]), ...pids, ...members], signal);
}

/** Sends `signal` to each target (a pid, or `-pgid`) once, followed by CONT unless it is KILL. */
export function signalEach(targets: number[], signal: number): void {
  for (const target of new Set(targets)) {
    signalIfAlive(target, signal);
    if (signal !== SIGNALS.SIGKILL) signalIfAlive(target, SIGNALS.SIGCONT);
  }
}

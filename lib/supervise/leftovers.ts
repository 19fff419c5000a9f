/**
 * What is left of a service whose supervisor died (kill -9): the processes of
 * the instances (and the `finish` program) its status file records. The service
 * ran in a session of its own, so what it started is found by session id even
 * when its main process is gone (a run script without `exec`, killed). The
 * kernel hands out no pid that is still a session id, but once a session has
 * ended its id may name a stranger's: so without the main process only members
 * that bear the run's mark in their environment (`OPSD_INSTANCE`) count. A
 * record written before this boot names nothing, nor one whose supervisor still
 * runs (a service directory copied with its state). Processes that left the
 * session (setsid) after their parent died are found by that mark too, which
 * they inherit: only one that cleared its environment is lost (the kernel has
 * nothing else that links it to the service; cgroups would).
 *
 * @module
 */

import {
  descendantsOf,
  isRunning,
  type ProcessId,
  procStartOf,
  sessionMembers,
} from "../procfs/processes.ts";
import { listPids } from "../procfs/pids.ts";
import { bootTimeMs } from "../procfs/uptime.ts";
import type { InstanceStatus, ServiceStatus } from "./status.ts";

/** The environment variable that marks a service's processes with their instance's id. */
export const INSTANCE_ENV = "OPSD_INSTANCE";

/** The instance id `pid` was started with (`OPSD_INSTANCE=id` in its environment), or null. */
function _markOf(pid: number): string | null {
  let environ: string;
  try {
    environ = new TextDecoder().decode(Deno.readFileSync(`/proc/${pid}/environ`));
  } catch {
    return null; // Gone, or not ours to read.
  }
  const mark = environ.split("\0").find((entry) => entry.startsWith(`${INSTANCE_ENV}=`));
  return mark === undefined ? null : mark.slice(INSTANCE_ENV.length + 1);
}

/** Whether `pid` was started with `OPSD_INSTANCE=id` in its environment. */
function _bearsMark(pid: number, id: string | undefined): boolean {
  return id !== undefined && id !== "" && _markOf(pid) === id; // No id: a record from before marks.
}

/**
 * Whether `record` names processes that may still run: what
 * {@linkcode leftoverProcesses} looks for, without looking (no scan of /proc),
 * for a start that must give itself time to stop them first.
 */
export function mayHaveLeftovers(record: ServiceStatus | null): record is ServiceStatus {
  // Written before this boot: its pids, start times and sessions named other processes.
  if (!record || Date.parse(record.updated) < bootTimeMs()) return false;
  // Its supervisor lives (the record was copied with its directory): they are that one's.
  if (isRunning(record.supervisor)) return false;
  return record.instances.length > 0 || Boolean(record.finish);
}

/**
 * The living processes of what `record` says was running — its instances and a
 * `finish` program: each such process still running and its descendants, and
 * the members of its session, also when that process is gone. Each process
 * once, main processes first.
 */
export function leftoverProcesses(record: ServiceStatus | null): ProcessId[] {
  if (!mayHaveLeftovers(record)) return [];
  const recorded: InstanceStatus[] = [...record.instances];
  if (record.finish) recorded.push(record.finish);
  const found = new Map<number, ProcessId>();
  const add = (process: ProcessId) => found.has(process.pid) || found.set(process.pid, process);
  for (const instance of recorded) {
    // With the main process running its session is certainly its own; without it,
    // the session id may have been handed out again: only processes bearing the
    // instance's mark count then.
    const running = isRunning(instance);
    if (running) {
      add(instance);
      descendantsOf(instance.pid).forEach(add);
    }
    for (const pid of sessionMembers(instance.pgid)) {
      const procStart = procStartOf(pid);
      if (procStart !== null && (running || _bearsMark(pid, instance.id))) add({ pid, procStart });
    }
  }
  // Processes that left the session and lost their parent: anywhere, by their mark.
  const ids = new Set(recorded.map((instance) => instance.id).filter(Boolean));
  if (ids.size > 0) {
    for (const pid of listPids()) {
      if (found.has(pid) || pid === Deno.pid || !ids.has(_markOf(pid) ?? "")) continue;
      const procStart = procStartOf(pid);
      if (procStart === null) continue;
      add({ pid, procStart });
      descendantsOf(pid).forEach(add);
    }
  }
  return [...found.values()];
}

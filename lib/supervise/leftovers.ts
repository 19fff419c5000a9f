/**
 * What is left of a service whose supervisor died (kill -9): the processes of
 * the instances (and the `finish` program) its status file records. The service
 * ran in a session of its own, so what it started is found by session id even
 * when its main process is gone (a run script without `exec`, killed). The
 * kernel hands out no pid that is still a session id, but once a session has
 * ended its id may name a stranger's: so without the main process only members
 * that bear the run's mark in their environment (`OPSD_INSTANCE`) count. A
 * record written before this boot names nothing, nor one whose supervisor still
 * runs (a service directory copied with its state). Processes
 * that left the session (setsid) and whose parent chain to the main process is
 * broken cannot be found: nothing in the kernel links them to the service.
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
import { bootTimeMs } from "../procfs/uptime.ts";
import type { InstanceStatus, ServiceStatus } from "./status.ts";

/** The environment variable that marks a service's processes with their instance's id. */
export const INSTANCE_ENV = "OPSD_INSTANCE";

/** Whether `pid` was started with `OPSD_INSTANCE=id` in its environment. */
function _bearsMark(pid: number, id: string | undefined): boolean {
  if (!id) return false; // A record from before marks.
  try {
    const environ = new TextDecoder().decode(Deno.readFileSync(`/proc/${pid}/environ`));
    return environ.split("\0").includes(`${INSTANCE_ENV}=${id}`);
  } catch {
    return false; // Gone, or not ours to read.
  }
}

/**
 * The living processes of what `record` says was running — its instances and a
 * `finish` program: each such process still running and its descendants, and
 * the members of its session, also when that process is gone. Each process
 * once, main processes first.
 */
export function leftoverProcesses(record: ServiceStatus | null): ProcessId[] {
  // Written before this boot: its pids, start times and sessions named other processes.
  if (!record || Date.parse(record.updated) < bootTimeMs()) return [];
  // Its supervisor lives (the record was copied with its directory): they are that one's.
  if (isRunning(record.supervisor)) return [];
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
  return [...found.values()];
}

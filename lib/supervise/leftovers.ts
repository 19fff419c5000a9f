/**
 * What is left of a service whose supervisor died (kill -9): the processes of
 * the instances (and the `finish` program) its status file records. The service
 * ran in a session of its own, so what it started is found by session id even
 * when its main process is gone (a run script without `exec`, killed); the
 * kernel hands out no pid that is still a session id, so a session found that
 * way is that run's. A record written before this boot names nothing. Processes
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
import { readProcStat } from "../procfs/stat.ts";
import { bootTimeMs } from "../procfs/uptime.ts";
import type { InstanceStatus, ServiceStatus } from "./status.ts";

/**
 * The living processes of what `record` says was running — its instances and a
 * `finish` program: each such process still running and its descendants, and
 * the members of its session, also when that process is gone. Each process
 * once, main processes first.
 */
export function leftoverProcesses(record: ServiceStatus | null): ProcessId[] {
  // Written before this boot: its pids, start times and sessions named other processes.
  if (!record || Date.parse(record.updated) < bootTimeMs()) return [];
  const recorded: InstanceStatus[] = [...record.instances];
  if (record.finish) recorded.push(record.finish);
  const found = new Map<number, ProcessId>();
  const add = (process: ProcessId) => found.has(process.pid) || found.set(process.pid, process);
  for (const instance of recorded) {
    if (isRunning(instance)) {
      add(instance);
      descendantsOf(instance.pid).forEach(add);
    } else if (
      (readProcStat(instance.pid)?.startTime ?? instance.procStart) !== instance.procStart
    ) {
      continue; // Its pid names another process now: its session is long gone.
    }
    for (const pid of sessionMembers(instance.pgid)) {
      const procStart = procStartOf(pid);
      // Started after the instance: a member of its session, not of an older one.
      if (procStart !== null && procStart >= instance.procStart) add({ pid, procStart });
    }
  }
  return [...found.values()];
}

/**
 * Acting on a named service from another process: `opsd up web`, `opsd svc -d web`.
 * Each service is resolved, sent its request, and reported on separately, so
 * one unknown or unsupervised service does not stop the others.
 *
 * @module
 */

import { ExitCode, exitCodeOf } from "../errors.ts";
import { resolveExistingService } from "../service/paths.ts";
import { sendControl, supervisorEndsWithin } from "./control.ts";
import { ASK_TIMEOUT, serviceReport, type StatusReport } from "./report.ts";
import { formatDuration } from "../duration.ts";
import { suggestCommand } from "../text/command.ts";
import { isRunning, type ProcessId } from "../procfs/processes.ts";
import type { ServiceStatus } from "./status.ts";
import type { ControlWord } from "./words.ts";

/** How a request to one service went. */
export interface ControlResult {
  /** The service as named. */
  name: string;
  /**
   * 0 done; 2 unknown service; 3 no supervisor; 6 no answer in time; 1 refused, or the
   * connection closed without an answer (see `error`).
   */
  code: ExitCode;
  /** Why it failed, or null. */
  error: string | null;
  /** The status after the request, when it was done. */
  status: ServiceStatus | null;
}

/** Sends `word` to the supervisor of the service `name` and waits for its acknowledgement. */
export async function controlService(name: string, word: ControlWord): Promise<ControlResult> {
  try {
    const reply = await sendControl(resolveExistingService(name), { command: word });
    if (reply.ok) return { name, code: ExitCode.ok, error: null, status: reply.status };
    return { name, code: ExitCode.failure, error: reply.error, status: null };
  } catch (error) {
    return { name, code: exitCodeOf(error), error: (error as Error).message, status: null };
  }
}

/** How the wait for a supervisor that acknowledged `exit` went. */
export interface ExitResult {
  /** 0 it ended with every process of the service down; 1 some still run; 6 timed out. */
  code: ExitCode;
  /** Why it failed, or null. */
  error: string | null;
  /** The service's report once the supervisor ended (as `opsd status` gives it), or null. */
  report: StatusReport | null;
}

/**
 * Waits until the supervisor of `name` (`supervisor`), which acknowledged `exit`, has
 * ended — it lets go of its lock last, once its services are down, then exits — for up
 * to `timeout` ms (0: as long as it takes; it KILLs what outlives its stop timeout), so
 * that `opsd exit web && opsd supervise --daemon web` finds the service free.
 */
export async function awaitExit(
  name: string,
  supervisor: ProcessId,
  timeout: number,
): Promise<ExitResult> {
  const paths = resolveExistingService(name);
  const deadline = timeout > 0 ? Date.now() + timeout : Infinity;
  if (!await supervisorEndsWithin(paths, deadline - Date.now(), supervisor.pid)) {
    return {
      code: ExitCode.timeout,
      error: `the supervisor of ${name} has not ended within ${formatDuration(timeout)}; it ` +
        `is still taking its services down: check with ${suggestCommand("opsd", "status", name)}`,
      report: null,
    };
  }
  // Its process ends a moment after the lock (a report would take it for another's meanwhile).
  await _goneBy(supervisor, Math.min(deadline, Date.now() + _EXIT_AFTER_LOCK));
  const report = await serviceReport(paths, name, "main", Date.now(), ASK_TIMEOUT);
  if (report.unsupervised.length === 0) return { code: ExitCode.ok, error: null, report };
  return {
    code: ExitCode.failure,
    error: `the supervisor of ${name} ended, but pid ${report.unsupervised.join(", ")} of the ` +
      "service still runs: stop it, or supervise the service again to have it stopped",
    report,
  };
}

/** How long a supervisor that let go of its lock is given to be gone (ms). */
const _EXIT_AFTER_LOCK = 5000;

/** Waits until `process` has exited (or is a zombie), at most until `deadline` (ms). */
async function _goneBy(process: ProcessId, deadline: number): Promise<void> {
  while (isRunning(process) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const _SEVERITY: number[] = [
  ExitCode.usage,
  ExitCode.notRunning,
  ExitCode.permission,
  ExitCode.timeout,
  ExitCode.failure,
];

/**
 * One exit code for several services' outcomes: the most telling of them
 * (2 unknown service, then 3 no supervisor, 4, 6, then any other failure), 0 when all are 0.
 */
export function combinedExitCode(codes: number[]): number {
  for (const code of _SEVERITY) if (codes.includes(code)) return code;
  return codes.find((code) => code !== ExitCode.ok) ?? ExitCode.ok;
}

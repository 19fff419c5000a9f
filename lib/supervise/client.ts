/**
 * Acting on a named service from another process: `opsd up web`, `opsd svc -d web`.
 * Each service is resolved, sent its request, and reported on separately, so
 * one unknown or unsupervised service does not stop the others.
 *
 * @module
 */

import { ExitCode, exitCodeOf } from "../errors.ts";
import { resolveExistingService, type ServicePaths } from "../service/paths.ts";
import { ANSWER_TIMEOUT, sendControl, SupervisorEnding, supervisorEndsWithin } from "./control.ts";
import { readStatusOrNull } from "./state.ts";
import { INSTANCE_ENV } from "./leftovers.ts";
import { ASK_TIMEOUT, type StatusReport, statusReports } from "./report.ts";
import { formatDuration } from "../duration.ts";
import { suggestCommand } from "../text/command.ts";
import { isAncestor, isRunning, type ProcessId } from "../procfs/processes.ts";
import type { ServiceStatus } from "./status.ts";
import type { ControlWord } from "./words.ts";
import { delay } from "../within.ts";

/**
 * How many services a command asks at once (`opsd down /srv/*`, `opsd status`): each
 * holds a control socket and a lock file's fd while it waits, so that a thousand
 * services stay well within the usual 1024 open fds (EMFILE), while one supervisor
 * that does not answer (stopped) holds up one of these only.
 */
export const SERVICES_AT_ONCE = 32;

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

/**
 * Sends `word` to the supervisor of the service `name` and waits for its acknowledgement,
 * for up to `timeout` ms (6 after that).
 */
export async function controlService(
  name: string,
  word: ControlWord,
  timeout = ANSWER_TIMEOUT,
): Promise<ControlResult> {
  let paths: ServicePaths | null = null;
  try {
    paths = resolveExistingService(name);
    const reply = await sendControl(paths, { command: word }, timeout);
    if (reply.ok) return { name, code: ExitCode.ok, error: null, status: reply.status };
    return { name, code: ExitCode.failure, error: reply.error, status: null };
  } catch (error) {
    // A supervisor that ended (or is ending) on its own as exit reached it (TERM, a kill)
    // does what exit asks: its last record stands for the acknowledgement, and it is waited for.
    const status = word === "exit" && error instanceof SupervisorEnding
      ? readStatusOrNull(paths!)
      : null;
    if (status !== null) return { name, code: ExitCode.ok, error: null, status };
    return { name, code: exitCodeOf(error), error: (error as Error).message, status: null };
  }
}

/** How the wait for a supervisor that acknowledged `exit` went. */
export interface ExitResult {
  /**
   * 0 it ended with every process of the service down; 1 some still run; 6 timed out;
   * 3 (see {@linkcode endedAlready}) none ran, but processes of the service still run.
   */
  code: ExitCode;
  /** Why it failed, or null. */
  error: string | null;
  /**
   * The service's reports once the supervisor ended, with its log service's (as `opsd
   * status` gives them); empty when it did not end.
   */
  reports: StatusReport[];
}

/**
 * Waits until the supervisor of `name` (`supervisor`), which acknowledged `exit`, has
 * ended — it lets go of its lock last, once its services are down, then exits — up to `deadline`
 * (Infinity: as long as it takes; it KILLs what outlives its stop timeout), so that
 * `opsd exit web && opsd supervise --daemon web` finds the service free. `timeout` is
 * the `--timeout` the deadline came from, for the message. Null, at once, when this
 * process is one of the service's (`opsd exit` run by the service or its `finish`:
 * marked with `OPSD_INSTANCE`, that supervisor an ancestor): the supervisor waits for
 * it before it ends, so waiting for the supervisor would only hold both up until it
 * kills this one.
 */
export async function awaitExit(
  name: string,
  supervisor: ProcessId,
  deadline: number,
  timeout: number,
): Promise<ExitResult | null> {
  const paths = resolveExistingService(name);
  // The service's processes carry its instance id; its supervisor is their ancestor.
  if (Deno.env.get(INSTANCE_ENV) !== undefined && isAncestor(supervisor.pid)) return null;
  if (!await supervisorEndsWithin(paths, deadline - Date.now(), supervisor.pid)) {
    return {
      code: ExitCode.timeout,
      error: `the supervisor of ${paths.path} has not ended within ${formatDuration(timeout)}; ` +
        `it is still taking its services down: check with ` +
        suggestCommand("opsd", "status", paths.path),
      reports: [],
    };
  }
  // Its process ends a moment after the lock (a report would take it for another's meanwhile).
  await _goneBy(supervisor, Math.min(deadline, Date.now() + _EXIT_AFTER_LOCK));
  const reports = await statusReports(paths, name, Date.now(), ASK_TIMEOUT);
  // The log service's processes count too: the supervisor stops both.
  const left = reports.flatMap((report) => report.unsupervised);
  if (left.length === 0) return { code: ExitCode.ok, error: null, reports };
  return {
    code: ExitCode.failure,
    error: `the supervisor of ${paths.path} ended, but pid ${left.join(", ")} of the ` +
      "service still runs: stop it, or supervise the service again to have it stopped",
    reports,
  };
}

/**
 * For `opsd exit|down --ok-if-stopped` on a service `name` no supervisor answered
 * for: its reports, as {@linkcode awaitExit} gives them once a supervisor has ended
 * (0), when nothing of it runs; 3, naming them, when processes of it were left
 * running unsupervised (a killed supervisor's), which neither word can stop. Null
 * when a supervisor started meanwhile (the error it gave stands).
 */
export async function endedAlready(name: string): Promise<ExitResult | null> {
  const paths = resolveExistingService(name);
  const reports = await statusReports(paths, name);
  if (reports.some((report) => report.supervisor.running)) return null;
  const left = reports.flatMap((report) => report.unsupervised);
  if (left.length === 0) return { code: ExitCode.ok, error: null, reports };
  return {
    code: ExitCode.notRunning,
    error: `no supervisor running for ${paths.path}, but pid ${left.join(", ")} of the ` +
      "service still runs: stop it, or supervise the service again to have it stopped",
    reports: [],
  };
}

/** How long a supervisor that let go of its lock is given to be gone (ms). */
const _EXIT_AFTER_LOCK = 5000;

/** Waits until `process` has exited (or is a zombie), at most until `deadline` (ms). */
async function _goneBy(process: ProcessId, deadline: number): Promise<void> {
  while (isRunning(process) && Date.now() < deadline) {
    await delay(10);
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

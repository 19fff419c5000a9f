/**
 * `opsd wait SERVICE --up|--down`: polling a service's status until it reaches a
 * state, for scripts (`opsd up web && opsd wait web --up`).
 *
 * @module
 */

import { formatDuration } from "../duration.ts";
import { ExitCode, exitCodeOf, OpsdError } from "../errors.ts";
import type { ServicePaths } from "../service/paths.ts";
import {
  ASK_TIMEOUT,
  describeReport,
  serviceReport,
  type StatusReport,
  statusReports,
} from "./report.ts";
import { superviseAgainCommand } from "./late_log.ts";
import { isReady } from "./status.ts";
import { delay } from "../within.ts";

const _INTERVAL = 50;

/**
 * Whether `report` shows the service `target`: up means running, not in a crash
 * loop, and ready when it says so on a notification-fd; down means none of its
 * processes runs (and none is stopping).
 */
export function reached(report: StatusReport, target: "up" | "down"): boolean {
  if (target === "up") {
    return report.supervisor.running && report.state === "up" && report.record !== null &&
      isReady(report.record);
  }
  if (!report.supervisor.running) return report.unsupervised.length === 0;
  return report.record !== null && report.record.pid === null &&
    (report.state === "down" || report.state === "crash-loop");
}

/**
 * Waits until the service is `target` (for up, its log/ service too), checking every
 * 50 ms, and returns its report. Throws exit 3 when no supervisor runs, or for `up` when it is exiting
 * (and so it cannot get there), and
 * exit 6 after `timeout` ms (0: no limit), or at `deadline` (ms since the epoch)
 * when one wait covers several services.
 */
export async function waitForService(
  paths: ServicePaths,
  name: string,
  target: "up" | "down",
  timeout: number,
  deadline = timeout > 0 ? Date.now() + timeout : Infinity,
): Promise<StatusReport> {
  for (;;) {
    // A supervisor asked for its record gets no longer than what is left of the wait;
    // one that does not answer in that time ends the wait as its timeout does (6).
    const left = Math.max(1, Math.min(ASK_TIMEOUT, deadline - Date.now()));
    let reports: StatusReport[];
    try {
      // Up is up with its log/ too, as for status (a service whose log/ is down blocks
      // once the pipe is full); down is the service's own processes (down leaves log/ up).
      reports = target === "up"
        ? await statusReports(paths, name, Date.now(), left)
        : [await serviceReport(paths, name, "main", Date.now(), left)];
    } catch (error) {
      const cut = left < ASK_TIMEOUT && exitCodeOf((error as Error).cause) === ExitCode.timeout;
      if (!cut) throw error;
      throw new OpsdError(
        `timed out after ${formatDuration(timeout)} waiting for ${name} to be ${target}; ` +
          (error as Error).message,
        ExitCode.timeout,
        { cause: error },
      );
    }
    const report = reports.find((one) => !reached(one, target));
    if (!report) return reports[0];
    // Said only when the wait ends here: its status line, and (as its last supervisor ran it,
    // `--daemon` for a detached one) how to supervise it again.
    const line = () => describeReport(report).split("\n")[0];
    const again = () =>
      superviseAgainCommand(paths.path, report.record?.supervisor.detached ?? false);
    if (!report.supervisor.running) {
      throw new OpsdError(
        `${line()}: it cannot get ${target} without one (start ${again()})`,
        ExitCode.notRunning,
      );
    }
    // The report's, not the record's: a record left by an earlier supervisor says nothing of this one.
    if (target === "up" && report.supervisor.exiting !== null) {
      throw new OpsdError(
        `${line()}: it cannot get up while its supervisor exits (once it has, start another: ` +
          `${again()})`,
        ExitCode.notRunning,
      );
    }
    if (Date.now() >= deadline) {
      const waited = `waiting for ${report.name} to be ${target}`;
      throw new OpsdError(
        `timed out after ${formatDuration(timeout)} ${waited}; now ` +
          line().slice(report.name.length + 2),
        ExitCode.timeout,
      );
    }
    await delay(_INTERVAL);
  }
}

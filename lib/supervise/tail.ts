/**
 * What `opsd tail` reads: a service's output tail (live from its supervisor, or
 * from the status file it left) and the path of its log file.
 *
 * @module
 */

import { ExitCode, OpsdError } from "../errors.ts";
import type { ServicePaths } from "../service/paths.ts";
import { loadSettings } from "../service/settings.ts";
import { sendControl } from "./control.ts";
import { ASK_TIMEOUT } from "./report.ts";
import { detachedLogFile, readStatus, runningSupervisor } from "./state.ts";
import { suggestCommand } from "../text/command.ts";
import type { TailStream } from "./output/output.ts";
import type { ServiceStatus } from "./status.ts";

/**
 * The last bytes the service wrote (with `lines`, only that many of its last
 * lines), and the stream they are of: stderr, or stdout while stderr had none
 * (see `ServiceOutput.lastOutput`). Asked of its supervisor when one runs, else
 * read from its status file. Throws exit 3 for a service never supervised.
 */
export async function outputTail(
  paths: ServicePaths,
  lines?: number,
): Promise<{ text: string; stream: TailStream }> {
  const record = await _tailRecord(paths);
  const stream = record.tailStream ?? "stderr";
  if (lines === undefined) return { text: record.tail, stream };
  const text = lines === 0
    ? ""
    : record.tail.replace(/\n$/, "").split("\n").slice(-lines).join("\n");
  return { text, stream };
}

/** The status record holding the tail: the supervisor's answer, else its status file. */
async function _tailRecord(
  paths: ServicePaths,
): Promise<Pick<ServiceStatus, "tail" | "tailStream">> {
  if (runningSupervisor(paths) !== null) {
    // A supervisor that does not answer (stopped, busy, exiting) still left its status file:
    // given as long as opsd status gives one, not a control word's 5 s.
    const reply = await sendControl(paths, { command: "status" }, ASK_TIMEOUT).catch((error) => {
      if (error instanceof OpsdError) return null;
      throw error;
    });
    if (reply?.ok) return reply.status;
  }
  const record = readStatus(paths);
  if (!record) {
    const start = suggestCommand("opsd", "supervise", paths.path);
    throw new OpsdError(
      `${paths.path} has never been supervised: start it with ${start}`,
      ExitCode.notRunning,
    );
  }
  return record;
}

/**
 * The service's log file: the one its supervisor uses (flags included), else the
 * one its settings file names. Throws exit 1 when it has none.
 */
export function logFileOf(paths: ServicePaths): string {
  const logFile = readStatus(paths)?.logFile ?? loadSettings(paths).settings.logFile;
  if (logFile) return logFile;
  const tail = suggestCommand("opsd", "tail", paths.path);
  if (paths.log) {
    // Its stdout is the log service's to write: a log-file here would hold its stderr only.
    const follow = suggestCommand("opsd", "tail", "-f", paths.log.path);
    throw new OpsdError(
      `${paths.path} has no log file to follow: its stdout goes to its log service, which ` +
        `writes its own files: follow those (${follow} when ${paths.log.settingsFile} sets ` +
        `log-file); ${tail} shows the output tail`,
      ExitCode.failure,
    );
  }
  throw new OpsdError(
    `${paths.path} has no log file to follow: set 'log-file = log/current' in ` +
      `${paths.settingsFile} (or pass --log-file to opsd supervise; a supervisor started with ` +
      `--daemon logs to ${detachedLogFile(paths)}); ${tail} shows the output tail`,
    ExitCode.failure,
  );
}

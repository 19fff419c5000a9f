/**
 * Acting on a named service from another process: `opsd up web`, `opsd svc -d web`.
 * Each service is resolved, sent its request, and reported on separately, so
 * one unknown or unsupervised service does not stop the others.
 *
 * @module
 */

import { ExitCode, exitCodeOf } from "../errors.ts";
import { resolveExistingService } from "../service/paths.ts";
import { sendControl } from "./control.ts";
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

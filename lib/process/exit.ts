/**
 * A child's exit: waiting for it with a deadline, and saying how it ended
 * (`exited 1`, `killed by SIGTERM`) in the one wording every command uses.
 *
 * @module
 */

import { isErrno, waitpid, type WaitStatus } from "../sys/libc.ts";
import { signalName } from "../sys/signals.ts";
import { delay } from "../within.ts";

const _POLL_INTERVAL = 10;

/**
 * Reaps child `pid`, waiting up to `ms` for it to exit, and returns its exit
 * status; null when it still runs after `ms`, or is not (or no longer) this
 * process's child (another reaper collected it).
 *
 * @example
 * ```ts
 * const status = await waitForExit(pid, 1000);
 * if (status === null) signalSession(pid, SIGNALS.SIGKILL);
 * ```
 */
export async function waitForExit(pid: number, ms: number): Promise<WaitStatus | null> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const status = waitpid(pid);
      if (status || Date.now() >= deadline) return status;
    } catch (error) {
      if (isErrno(error, "ECHILD")) return null;
      throw error;
    }
    await delay(_POLL_INTERVAL);
  }
}

/** How a process ended: its exit code, or the signal (a number or a name such as `SIGKILL`). */
export interface ExitDescription {
  exitCode: number | null;
  signal: number | string | null;
  /** It dumped core. */
  core?: boolean;
}

/**
 * `exited 1`, `killed by SIGTERM`, `killed by SIGSEGV (core dumped)`: how a
 * process ended, as every opsd message and status line words it.
 */
export function describeExit(status: ExitDescription): string {
  if (status.signal === null) return `exited ${status.exitCode}`;
  const name = typeof status.signal === "number" ? signalName(status.signal) : status.signal;
  return `killed by ${name}${status.core ? " (core dumped)" : ""}`;
}

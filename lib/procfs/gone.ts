/**
 * Telling "the process is gone" from real failures when reading `/proc/PID/…`.
 *
 * @module
 */

import { errorCode } from "../sys/errno.ts";

/**
 * Whether `error`, from reading a `/proc/PID` file, means the process has gone:
 * ENOENT, or ESRCH when it exited between opening the file and reading it
 * (Deno has no error class for ESRCH, only its message).
 */
export function isProcessGone(error: unknown): boolean {
  const code = errorCode(error);
  return code === "ENOENT" || code === "ESRCH";
}

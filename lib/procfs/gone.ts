/**
 * Telling "the process is gone" from real failures when reading `/proc/PID/…`.
 *
 * @module
 */

/**
 * Whether `error`, from reading a `/proc/PID` file, means the process has gone:
 * ENOENT, or ESRCH when it exited between opening the file and reading it
 * (Deno has no error class for ESRCH, only its message).
 */
export function isProcessGone(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound ||
    (error instanceof Error && error.message.includes("(os error 3)"));
}

/**
 * opsd's exit codes and the error type library code throws when a command must
 * fail with one of them. Library code never prints or exits: it throws, and the
 * command layer prints one line and exits with the code the error carries.
 *
 * @module
 */

import { SysError } from "./sys/errno.ts";

/**
 * Every exit code opsd uses, besides 128 + N for a start interrupted by signal N
 * (lib/daemon/start.ts); the README's table lists the same.
 */
export const ExitCode = {
  /** Success; for queries, something matched. */
  ok: 0,
  /** The operation failed, or a query matched nothing. */
  failure: 1,
  /** Bad flags or arguments: nothing was done. */
  usage: 2,
  /** The service's supervisor, or the daemon, is not running (the LSB "not running" code). */
  notRunning: 3,
  /** Permission denied. */
  permission: 4,
  /** Something else already holds it: a second supervisor, a running daemon. */
  busy: 5,
  /** A wait or stop did not finish within its timeout. */
  timeout: 6,
  /** The program was found but could not be executed (as in the shell). */
  cannotExecute: 126,
  /** The program was not found (as in the shell). */
  notFound: 127,
} as const;

/** One of {@linkcode ExitCode}'s values. */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];

/**
 * A failure to report as one line and an exit code. The message says what failed
 * and, where there is something to do, what to do: `no supervisor for /srv/web:
 * start one with 'opsd supervise /srv/web'`.
 */
export class OpsdError extends Error {
  /** @param exitCode the code the command exits with (default 1) */
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.failure,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "OpsdError";
  }
}

/** A bad flag value or argument: exit code 2, nothing done. */
export class UsageError extends OpsdError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.usage, options);
    this.name = "UsageError";
  }
}

/** The exit code for any error: its own for an OpsdError, 4 for EACCES/EPERM, else 1. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof OpsdError) return error.exitCode;
  if (error instanceof SysError && (error.code === "EACCES" || error.code === "EPERM")) {
    return ExitCode.permission;
  }
  if (error instanceof Deno.errors.PermissionDenied) return ExitCode.permission;
  return ExitCode.failure;
}

/**
 * Replacing the current process with a program, optionally as another user:
 * `opsd exec`, and the exec shim `spawnProgram` starts when a child must run
 * under other credentials (posix_spawn cannot drop privileges on its own).
 *
 * @module
 */

import { ExitCode, exitCodeOf, OpsdError } from "../errors.ts";
import { SIGNALS } from "../sys/constants.ts";
import { SysError } from "../sys/errno.ts";
import { blockSignal, execve, resetSignal, setCloexec } from "../sys/libc.ts";
import { type Credentials, dropPrivileges } from "./credentials.ts";
import { environmentEntries, readEnvironmentFile, startEnvironment } from "./environment.ts";
import { execFailure, resolveProgram } from "./program.ts";
import { writeReadyLine } from "./readiness.ts";
import { requireHandedFd } from "./handed_fd.ts";

/** What {@linkcode execProgram} runs. */
export interface ExecRequest {
  /** Program and arguments; the program is looked up in PATH when it has no slash. */
  argv: readonly string[];
  /** Drop to these credentials first. */
  credentials?: Credentials;
  /**
   * An fd to report failure on instead of throwing: a line `CODE MESSAGE` (as in the
   * readiness protocol, lib/process/readiness.ts), then exit.
   * It is closed on a successful exec, so the reader sees end of file.
   */
  statusFd?: number;
  /**
   * Give the program the environment in the file open on this fd (written by
   * `environmentFile`, lib/process/environment.ts: the exec shim's way) instead of
   * the one this process was started with.
   */
  envFd?: number;
  /**
   * Enter this directory (absolute) after the switch to `credentials`: the exec
   * shim's check that the program's user may use the working directory it was
   * started in as root (as systemd's `WorkingDirectory=` is entered as the user).
   */
  enter?: string;
}

/**
 * Replaces this process with `request.argv`, keeping its pid, environment (the one
 * it was started with, or the one in `envFd`) and fds 0-2 (and any others not
 * marked close-on-exec). Returns only by throwing (or, with
 * `statusFd`, by reporting on it and exiting with 127 or 126).
 */
export function execProgram(request: ExecRequest): never {
  if (request.statusFd !== undefined) {
    requireHandedFd(request.statusFd, "--status-fd", "the exec status");
  }
  if (request.envFd !== undefined) requireHandedFd(request.envFd, "--env-fd", "the environment");
  try {
    if (request.statusFd !== undefined) setCloexec(request.statusFd, true);
    // Read while /proc/self is still readable: a process that switched users may not read it.
    const environment = request.envFd === undefined
      ? startEnvironment()
      : readEnvironmentFile(request.envFd);
    if (request.credentials) dropPrivileges(request.credentials);
    if (request.enter !== undefined) _enter(request.enter, request.credentials);
    // After the switch, as execvp would: PATH is searched with the program's own rights.
    const path = resolveProgram(request.argv[0], { searchPath: environment.PATH });
    // Deno ignores SIGPIPE, opsd SIGUSR1 (and a supervisor blocks it): an ignored or
    // blocked signal would stay so in the program.
    resetSignal(SIGNALS.SIGPIPE);
    resetSignal(SIGNALS.SIGUSR1);
    blockSignal(SIGNALS.SIGUSR1, false);
    try {
      return execve(path, [...request.argv], environmentEntries(environment));
    } catch (error) {
      throw error instanceof SysError ? execFailure(path, error) : error;
    }
  } catch (error) {
    if (request.statusFd === undefined) throw error;
    writeReadyLine(request.statusFd, exitCodeOf(error), (error as Error).message);
    Deno.exit(exitCodeOf(error));
  }
}

/**
 * Enters `dir`, refusing (exit 4) when the user switched to may not: a program left
 * in a directory it may not search fails at every relative path, far from the cause.
 */
function _enter(dir: string, credentials: Credentials | undefined): void {
  try {
    Deno.chdir(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.PermissionDenied)) throw error;
    const user = credentials?.user === undefined ? "this user" : `user ${credentials.user}`;
    throw new OpsdError(
      `cannot use working directory ${dir}: permission denied: ${user} may not enter it: ` +
        "choose a directory that user may enter, or give it search permission",
      ExitCode.permission,
      { cause: error },
    );
  }
}

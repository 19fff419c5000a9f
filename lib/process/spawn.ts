/**
 * Starting a child with exactly the fds, session, umask and user it should have,
 * and knowing for certain whether its program was exec'd.
 *
 * @module
 */

import { ExitCode, OpsdError } from "../errors.ts";
import { SIGNALS } from "../sys/constants.ts";
import { SysError } from "../sys/errno.ts";
import { close, pipe2, posixSpawn, umask } from "../sys/libc.ts";
import { opsdArgv } from "../self.ts";
import { resolvePath } from "../path.ts";
import type { Credentials } from "./credentials.ts";
import { environmentEntries, environmentFile, startEnvironment } from "./environment.ts";
import { waitForExit } from "./exit.ts";
import { readPipeText } from "./pipe_text.ts";
import { signalIfAlive } from "./signal.ts";
import { execFailure, resolveProgram } from "./program.ts";
import { parseReadyLine } from "./readiness.ts";

const _SHIM_EXIT_TIMEOUT = 5000;
/** How long the exec shim may take to switch user and exec (it resolves names through NSS). */
const _SHIM_EXEC_TIMEOUT = 30_000;

/** What {@linkcode spawnProgram} starts and how. */
export interface SpawnRequest {
  /** Program and arguments; a program without a slash is looked up in the child's PATH. */
  argv: readonly string[];
  /** The child's whole environment (default: the one opsd was started with). */
  env?: Record<string, string>;
  /** Working directory (default: opsd's). */
  cwd?: string;
  /** `fds[i]` becomes the child's fd `i` (null: closed); nothing else of opsd's is inherited. */
  fds: readonly (number | null)[];
  /** Start in a new session: its own process group, no controlling terminal. */
  newSession?: boolean;
  /** Start in a new process group of its own (implied by `newSession`). */
  newProcessGroup?: boolean;
  /** The child's umask (default: opsd's). */
  umask?: number;
  /** Run as this user and group; needs root. Goes through an exec shim (`opsd exec`). */
  credentials?: Credentials;
}

/**
 * Starts a program and resolves to its pid once the program has been exec'd.
 * Rejects with an OpsdError carrying exit code 127 (not found) or 126 (cannot
 * execute) when it could not be, leaving nothing running. The caller reaps the pid.
 */
export async function spawnProgram(request: SpawnRequest): Promise<number> {
  const env = request.env ?? startEnvironment();
  const base = {
    cwd: request.cwd,
    newSession: request.newSession,
    newProcessGroup: request.newProcessGroup,
  };
  if (!request.credentials) {
    const path = resolveProgram(request.argv[0], { cwd: request.cwd, searchPath: env.PATH });
    return _withUmask(request.umask, () => {
      try {
        const argv = [...request.argv], fds = [...request.fds];
        return posixSpawn({ ...base, env: environmentEntries(env), path, argv, fds });
      } catch (error) {
        throw error instanceof SysError ? execFailure(path, error) : error;
      }
    });
  }
  const { user, group } = request.credentials;
  // The shim reports a failed exec on a close-on-exec pipe as `CODE MESSAGE` (the readiness
  // protocol's failure line): end of file alone means success. It runs with opsd's own
  // environment and reads the program's from a file (see environment.ts).
  const shim = opsdArgv([
    "exec",
    ...(user === undefined ? [] : ["--user", user]),
    ...(group === undefined ? [] : ["--group", group]),
    ...["--status-fd", String(request.fds.length), "--env-fd", String(request.fds.length + 1)],
    // Started there as root: the shim checks that the user may use it.
    ...(request.cwd === undefined ? [] : ["--enter", resolvePath(request.cwd)]),
    "--",
    ...request.argv,
  ]);
  const envFile = environmentFile(env);
  let pid: number, reader: number;
  try {
    const [read, writer] = pipe2();
    reader = read;
    try {
      const fds = [...request.fds, writer, envFile];
      const own = environmentEntries(startEnvironment());
      pid = _withUmask(
        request.umask,
        () => posixSpawn({ ...base, env: own, path: shim[0], argv: shim, fds }),
      );
    } catch (error) {
      close(reader);
      throw error;
    } finally {
      close(writer);
    }
  } finally {
    close(envFile);
  }
  let read;
  try {
    read = await readPipeText(reader, { timeout: _SHIM_EXEC_TIMEOUT });
  } catch (error) {
    await _abandonShim(pid);
    throw error;
  }
  if (read.end === "timeout") {
    await _abandonShim(pid);
    throw new OpsdError(
      `could not start ${request.argv[0]}: the exec shim (pid ${pid}) did not exec it within ` +
        `${_SHIM_EXEC_TIMEOUT / 1000} s (a hung user lookup?): killed it`,
    );
  }
  const report = read.text;
  if (report === "") return pid;
  // The shim exits right after reporting; another reaper may beat us to it.
  await waitForExit(pid, _SHIM_EXIT_TIMEOUT);
  const said = parseReadyLine(report.trimEnd());
  if (said.outcome === "failed") throw new OpsdError(said.message, said.code as ExitCode);
  throw new OpsdError(report.trim());
}

/** Kills an exec shim that will not report and reaps it, so nothing of it stays behind. */
async function _abandonShim(pid: number): Promise<void> {
  signalIfAlive(pid, SIGNALS.SIGKILL);
  await waitForExit(pid, _SHIM_EXIT_TIMEOUT);
}

function _withUmask<T>(mask: number | undefined, action: () => T): T {
  if (mask === undefined) return action();
  const previous = umask(mask);
  try {
    return action();
  } finally {
    umask(previous);
  }
}

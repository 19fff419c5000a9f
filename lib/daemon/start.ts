/**
 * Starting a program as a daemon, the classic Unix way and exactly: a new session
 * with no controlling terminal, umask 022, working directory `/`, stdin from
 * /dev/null, stdout and stderr to /dev/null or appended to a log, no inherited fd
 * beyond 0-2 except the pidfile lock (fd 3) and the readiness fd, and a result
 * only once the program has been exec'd (or, with `readyTimeout`, has said it is
 * ready). This is the one function `opsd daemon` and any other command that puts
 * something in the background (`opsd supervise --daemon`) call.
 *
 * @module
 */

import net from "node:net";
import { ExitCode, OpsdError, UsageError } from "../errors.ts";
import type { Credentials } from "../process/credentials.ts";
import { signalSession } from "../process/pidfd.ts";
import { spawnProgram } from "../process/spawn.ts";
import { O, SIGNALS } from "../sys/constants.ts";
import { close, isErrno, open, pipe2, umask, waitpid, type WaitStatus } from "../sys/libc.ts";
import { signalName } from "../sys/signals.ts";
import { formatDuration } from "../duration.ts";
import { fileError } from "./file_error.ts";
import { absolutePath, PIDFILE_ENV, PIDFILE_FD, PidfileClaim, removePidfile } from "./pidfile.ts";

/** The variable naming the fd a daemon started with `readyTimeout` reports readiness on. */
export const READY_FD_ENV = "OPSD_READY_FD";

/** What {@linkcode startDaemon} starts and how. Every default is applied here. */
export interface DaemonRequest {
  /**
   * Program and arguments. A program path with a slash is taken relative to the
   * caller's working directory (not `cwd`); a bare name is looked up in the
   * daemon's PATH.
   */
  argv: readonly string[];
  /**
   * The daemon's environment (default: the caller's). opsd's own variables
   * `OPSD_PIDFILE_FD`, `OPSD_PIDFILE` and `OPSD_READY_FD` are always replaced: set
   * when they apply, removed when not.
   */
  env?: Record<string, string>;
  /** Working directory (default `/`); relative to the caller's. */
  cwd?: string;
  /** File mode creation mask (default 0o022). */
  umask?: number;
  /** Run as this user and group (needs root); privileges are dropped before exec. */
  credentials?: Credentials;
  /** Append stdout and stderr to this file, created with the daemon's umask (default: /dev/null). */
  log?: string;
  /** Write the pid here and hold its lock for the daemon's life (see pidfile.ts). */
  pidfile?: string;
  /**
   * Wait, up to this many milliseconds, until the daemon writes a newline to the fd
   * named in `$OPSD_READY_FD` (the s6 readiness protocol). A daemon that exits or
   * closes the fd first, or misses the deadline, is killed and reported.
   */
  readyTimeout?: number;
}

/** A daemon that {@linkcode startDaemon} started. */
export interface StartedDaemon {
  /** Its pid, which is also its session and process group id. */
  pid: number;
  /** The absolute path of its pidfile, or null without one. */
  pidfile: string | null;
  /** The pid a stale pidfile named before this start replaced it. */
  replaced: number | null;
}

/**
 * Starts `request.argv` as a daemon and resolves once its program has been exec'd
 * (and, with `readyTimeout`, has reported ready). Throws an OpsdError, leaving
 * nothing running and no pidfile behind: 127/126 when the program cannot be
 * executed, 5 when the pidfile is held by a running daemon, 2 for bad paths, 4 for
 * permission problems, 1 or 6 when the daemon failed or missed `readyTimeout`.
 *
 * The daemon is the caller's child until the caller exits (then it is reparented
 * to pid 1 or the nearest subreaper): a caller that lives on must reap it.
 *
 * @example
 * ```ts
 * const { pid } = await startDaemon({ argv: ["sleep", "600"], pidfile: "/run/sleep.pid" });
 * ```
 */
export async function startDaemon(request: DaemonRequest): Promise<StartedDaemon> {
  const mask = request.umask ?? 0o022;
  const cwd = _directory(request.cwd ?? "/");
  const [program, ...args] = request.argv;
  if (!program) throw new UsageError("no program to start as a daemon");
  const argv = [program.includes("/") ? absolutePath(program) : program, ...args];
  const env = { ...(request.env ?? Deno.env.toObject()) };
  for (const name of [PIDFILE_ENV.fd, PIDFILE_ENV.path, READY_FD_ENV]) delete env[name];

  const stdin = open("/dev/null", O.RDONLY | O.CLOEXEC);
  let output = -1;
  try {
    output = request.log === undefined
      ? open("/dev/null", O.WRONLY | O.CLOEXEC)
      : _openLog(request.log, mask);
    using claim = request.pidfile === undefined ? null : PidfileClaim.claim(request.pidfile);
    const fds = [stdin, output, output];
    if (claim) {
      env[PIDFILE_ENV.fd] = String(PIDFILE_FD);
      env[PIDFILE_ENV.path] = claim.path;
      fds.push(claim.fd);
    }
    const ready = request.readyTimeout === undefined ? null : pipe2();
    if (ready) {
      env[READY_FD_ENV] = String(fds.length);
      fds.push(ready[1]);
    }
    let pid: number;
    try {
      pid = await spawnProgram({
        argv,
        env,
        cwd,
        fds,
        umask: mask,
        newSession: true,
        credentials: request.credentials,
      });
    } catch (error) {
      if (ready) close(ready[0]);
      throw error;
    } finally {
      if (ready) close(ready[1]);
    }
    const pidfile = claim?.path ?? null;
    try {
      claim?.commit(pid);
    } catch (error) {
      await _abort(pid, null);
      throw error;
    }
    if (ready) await _awaitReady(pid, ready[0], request.readyTimeout!, pidfile);
    return { pid, pidfile, replaced: claim?.replaced ?? null };
  } finally {
    close(stdin);
    if (output >= 0) close(output);
  }
}

/** `path` made absolute, checked to be a directory (a UsageError otherwise). */
function _directory(path: string): string {
  const absolute = absolutePath(path);
  let isDirectory = false;
  try {
    isDirectory = Deno.statSync(absolute).isDirectory;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (!isDirectory) {
    throw new UsageError(`working directory ${absolute} does not exist or is not a directory`);
  }
  return absolute;
}

/** Opens the log for appending, creating it as the daemon would: mode 0666 & ~`mask`. */
function _openLog(path: string, mask: number): number {
  const absolute = absolutePath(path);
  const previous = umask(mask);
  try {
    return open(absolute, O.WRONLY | O.APPEND | O.CREAT | O.CLOEXEC, 0o666);
  } catch (error) {
    throw fileError("open log", absolute, error);
  } finally {
    umask(previous);
  }
}

/**
 * Waits for a newline on the readiness pipe `fd` (closing it). A daemon that exits
 * or closes the pipe first, or misses `timeout`, is killed and reported.
 */
async function _awaitReady(
  pid: number,
  fd: number,
  timeout: number,
  pidfile: string | null,
): Promise<void> {
  const outcome = await _readyLine(fd, timeout);
  if (outcome === "ready") return;
  if (outcome === "timeout") {
    await _abort(pid, pidfile);
    throw new OpsdError(
      `pid ${pid} did not report ready within ${formatDuration(timeout)}: killed it`,
      ExitCode.timeout,
    );
  }
  const status = await _exitStatus(pid, 1000);
  if (status === null) await _abort(pid, pidfile);
  else if (pidfile) removePidfile(pidfile);
  throw new OpsdError(
    status === null
      ? `pid ${pid} closed its ready fd without writing a newline: killed it`
      : `pid ${pid} ${_describe(status)} before it reported ready`,
  );
}

/** Reads the pipe `fd` until a newline ("ready"), its end ("closed") or `timeout`. */
function _readyLine(fd: number, timeout: number): Promise<"ready" | "closed" | "timeout"> {
  return new Promise((resolve) => {
    const pipe = new net.Socket({ fd, readable: true, writable: false });
    const finish = (outcome: "ready" | "closed" | "timeout") => {
      clearTimeout(timer);
      pipe.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish("timeout"), timeout);
    pipe.on("data", (chunk: Uint8Array) => {
      if (chunk.includes(10)) finish("ready");
    });
    pipe.on("end", () => finish("closed"));
    pipe.on("error", () => finish("closed"));
  });
}

/** Kills every process of the daemon's session, reaps it and removes its pidfile. */
async function _abort(pid: number, pidfile: string | null): Promise<void> {
  signalSession(pid, SIGNALS.SIGKILL);
  await _exitStatus(pid, 5000);
  if (pidfile) removePidfile(pidfile);
}

/** The exit status of child `pid`, waiting up to `ms`; null if it still runs. */
async function _exitStatus(pid: number, ms: number): Promise<WaitStatus | null> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const status = waitpid(pid);
      if (status || Date.now() >= deadline) return status;
    } catch (error) {
      if (isErrno(error, "ECHILD")) return null;
      throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function _describe(status: WaitStatus): string {
  return status.signal === null
    ? `exited with code ${status.exitCode}`
    : `was killed by ${signalName(status.signal)}`;
}

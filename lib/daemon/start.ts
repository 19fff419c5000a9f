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

import { ExitCode, exitCodeOf, OpsdError, UsageError } from "../errors.ts";
import type { Credentials } from "../process/credentials.ts";
import { describeExit, waitForExit } from "../process/exit.ts";
import { signalSession } from "../process/signal.ts";
import { awaitReadiness, READY_FD_ENV } from "../process/readiness.ts";
import { spawnProgram } from "../process/spawn.ts";
import { startEnvironment } from "../process/environment.ts";
import { O, SIGNALS } from "../sys/constants.ts";
import { close, getStatusFlags, open, pipe2, setStatusFlags, umask } from "../sys/libc.ts";
import { formatDuration } from "../duration.ts";
import { withoutHandoff } from "./env.ts";
import { fileError } from "../file_error.ts";
import {
  absolutePath,
  type LiveProcess,
  liveProcess,
  PIDFILE_ENV,
  PIDFILE_FD,
  PidfileBusy,
  PidfileClaim,
  PidfileLocked,
  removePidfile,
} from "./pidfile.ts";
import { alreadyRunningMessage, daemonStatus } from "./status.ts";
import { QUIET_ENDING_SIGNALS } from "../sys/signals.ts";
import { delay } from "../within.ts";

const _STOP_TIMEOUT = 2000;

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
   * Wait, up to this many milliseconds (0: with no time limit), until the daemon
   * writes its readiness line to the fd named in `$OPSD_READY_FD`
   * (lib/process/readiness.ts: an empty line or `0 …` is ready, `CODE MESSAGE`
   * failed). A daemon that fails, exits or closes the fd first, or misses the
   * deadline, is stopped and reported.
   */
  readyTimeout?: number;
  /** The option that sets `readyTimeout`, for the advice when it runs out (default `--wait-ready`). */
  readyTimeoutOption?: string;
  /**
   * With `readyTimeout`: how long a daemon that failed gets to exit by itself
   * (after reporting failure, or after TERM) before its session gets KILL
   * (default 2 s).
   */
  stopTimeout?: number;
}

/** A daemon that {@linkcode startDaemon} started. */
export interface StartedDaemon {
  /** Its pid, which is also its session and process group id. */
  pid: number;
  /** The absolute path of its pidfile, or null without one. */
  pidfile: string | null;
  /** The pid a stale pidfile named before this start replaced it. */
  replaced: number | null;
  /**
   * The process that pid named when the pidfile was replaced, if one lived (looked at
   * before the start, so that it is never the new daemon): no lock said it was the
   * daemon, yet it may be an earlier instance that closed fd 3.
   */
  replacedAlive: LiveProcess | null;
  /** With `readyTimeout`: what the readiness line said (`supervising /srv/web (…)`, or ""). */
  ready: string | null;
}

/**
 * Starts `request.argv` as a daemon and resolves once its program has been exec'd
 * (and, with `readyTimeout`, has reported ready). Throws an OpsdError, leaving
 * nothing running and no pidfile behind: 127/126 when the program cannot be
 * executed, 5 when the pidfile is held by a running daemon, 2 for bad paths, 4 for
 * permission problems, 6 when it missed `readyTimeout`, 1 when it exited or
 * closed the fd first, the daemon's own code (with its message) when it
 * reported failure on the readiness fd, and 128 + N when this process got signal
 * N (INT, TERM, HUP, QUIT, USR2, ALRM…) before the daemon was started or ready: it is stopped
 * as a daemon that failed is.
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
  const env = withoutHandoff(request.env ?? startEnvironment());

  // Interrupting opsd must not leave a daemon it was still starting, unready and unreported.
  using interrupts = new _Interrupts();
  const stopTimeout = request.stopTimeout ?? _STOP_TIMEOUT;
  const stdin = open("/dev/null", O.RDONLY | O.CLOEXEC);
  let output = -1;
  try {
    output = request.log === undefined
      ? open("/dev/null", O.WRONLY | O.CLOEXEC)
      : _openLog(request.log, mask);
    using claim = request.pidfile === undefined ? null : _claim(request.pidfile);
    const replacedAlive = liveProcess(claim?.replaced ?? null);
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
      if (ready) close(ready[0]);
      await _abort(pid, null, 0);
      throw error;
    }
    if (interrupts.signal) {
      if (ready) close(ready[0]);
      throw await _interrupted(interrupts.signal, `starting pid ${pid}`, pid, pidfile, stopTimeout);
    }
    const said = ready
      ? await _awaitReady(pid, ready[0], {
        timeout: request.readyTimeout!,
        option: request.readyTimeoutOption ?? "--wait-ready",
        stopTimeout,
        interrupts,
      }, pidfile)
      : null;
    return { pid, pidfile, replaced: claim?.replaced ?? null, replacedAlive, ready: said };
  } finally {
    close(stdin);
    if (output >= 0) close(output);
  }
}

/** How long {@linkcode startUnlessRunning} waits out another opsd starting or stopping it (ms). */
const _BUSY_PATIENCE = 10_000;

/**
 * Who holds what a start refused as busy (exit 5) wanted, as {@linkcode startUnlessRunning}
 * asks: `{running}` the thing asked for, running as that pid; `passing` nothing yet, or
 * another opsd starting or stopping it (two cron lines at once): try again shortly;
 * `other` anything else (or a refusal that was no claim's), which the start refuses as
 * it did.
 */
export type BusyHolder = { running: number } | "passing" | "other";

/**
 * Runs `start` for a command run again and again (a crontab line), as
 * start-stop-daemon's `--oknodo` runs: when it is refused as busy (exit 5) and
 * `holder`, given that refusal, says the thing asked for runs already, that is no
 * failure, and its pid is returned as `running` instead. A start or stop of it by
 * another opsd at that moment is waited out, up to 10 s, then `start` is tried again;
 * anything else holding it is refused as `start` refused it.
 */
export async function startUnlessRunning<T>(
  start: () => Promise<T>,
  holder: (refusal: unknown) => BusyHolder,
): Promise<{ started: T } | { running: number }> {
  const deadline = Date.now() + _BUSY_PATIENCE;
  for (;;) {
    try {
      return { started: await start() };
    } catch (error) {
      if (exitCodeOf(error) !== ExitCode.busy) throw error;
      const found = holder(error);
      if (typeof found === "object") return found;
      if (found === "other" || Date.now() >= deadline) throw error;
      await delay(50);
    }
  }
}

/**
 * {@linkcode startDaemon} through {@linkcode startUnlessRunning}: a daemon already
 * running under `request.pidfile` (its lock held by the pid it names or that pid's
 * session, as `daemon status` says `running`) is returned as `running`. A lock held by
 * anything else (`foreign`) is still refused (exit 5), and so is a daemon that said
 * `5 MESSAGE` on its readiness fd itself: only a refused claim of the pidfile is
 * looked into.
 */
export function startDaemonUnlessRunning(
  request: DaemonRequest & { pidfile: string },
): Promise<{ started: StartedDaemon } | { running: number }> {
  return startUnlessRunning(() => startDaemon(request), (refusal) => {
    if (!(refusal instanceof PidfileBusy)) return "other";
    const found = daemonStatus(request.pidfile);
    if (found.state === "running" && found.pid !== null) return { running: found.pid };
    return found.state === "foreign" ? "other" : "passing";
  });
}

/**
 * Stops a daemon {@linkcode startDaemon} started, as a failed start is stopped:
 * TERM and CONT to its session, up to `stopTimeout` (2 s) to exit, then KILL; reaps
 * it and removes its pidfile. For a caller that cannot finish the start, such as
 * one that cannot hand the pid on.
 */
export async function stopStartedDaemon(
  daemon: Pick<StartedDaemon, "pid" | "pidfile">,
  stopTimeout = _STOP_TIMEOUT,
): Promise<void> {
  await _abort(daemon.pid, daemon.pidfile, stopTimeout);
}

/**
 * `path` made absolute, checked to be a directory: a UsageError when it is missing
 * or something else, a permission error when it cannot be reached, each saying
 * what to do.
 */
function _directory(path: string): string {
  const absolute = absolutePath(path);
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(absolute);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)) {
      throw fileError("use working directory", absolute, error);
    }
    throw new UsageError(
      `working directory ${absolute} does not exist: create it, or choose another with --chdir`,
      { cause: error },
    );
  }
  if (!info.isDirectory) {
    throw new UsageError(
      `working directory ${absolute} is not a directory: choose a directory with --chdir`,
    );
  }
  return absolute;
}

/**
 * Claims the pidfile at `path`. Refused because a daemon holds it, the error names
 * the lock's holder as `daemon status` does: the pid the file names, its session,
 * or (a program that put itself in the background) a process that is neither.
 * A holder that lets go between the claim and that look is no reason to refuse:
 * the claim is tried once more.
 */
function _claim(path: string, retry = true): PidfileClaim {
  try {
    return PidfileClaim.claim(path);
  } catch (error) {
    if (!(error instanceof PidfileLocked)) throw error;
    const message = alreadyRunningMessage(error.path);
    if (message !== null) throw new PidfileBusy(message, ExitCode.busy, { cause: error });
    if (retry) return _claim(path, false);
    throw error;
  }
}

/**
 * Opens the log for appending, creating it as the daemon would: mode 0666 & ~`mask`.
 * A FIFO is opened without waiting for a reader (a FIFO nobody reads is refused:
 * opsd would wait for ever, deaf to signals), then made blocking again, as the
 * daemon's writes expect; a terminal never becomes opsd's controlling terminal.
 */
function _openLog(path: string, mask: number): number {
  const absolute = absolutePath(path);
  const previous = umask(mask);
  let fd: number;
  try {
    fd = open(absolute, O.WRONLY | O.APPEND | O.CREAT | O.CLOEXEC | O.NONBLOCK | O.NOCTTY, 0o666);
  } catch (error) {
    throw fileError("open log", absolute, error);
  } finally {
    umask(previous);
  }
  try {
    setStatusFlags(fd, getStatusFlags(fd) & ~O.NONBLOCK);
  } catch (error) {
    close(fd);
    throw error;
  }
  return fd;
}

/**
 * Waits for the readiness line on `fd` (see lib/process/readiness.ts), for up to
 * `timeout` ms (0: no limit). A daemon that reports failure is given `stopTimeout`
 * to exit by itself; one that exits or closes the fd first, misses `timeout`, or is
 * still unready when opsd is interrupted, is stopped. Whatever is left of its
 * session then gets KILL and its pidfile is removed; the error carries the
 * daemon's code and message.
 */
async function _awaitReady(
  pid: number,
  fd: number,
  timing: { timeout: number; option: string; stopTimeout: number; interrupts: _Interrupts },
  pidfile: string | null,
): Promise<string> {
  // An interrupted wait leaves the read to end by itself: stopping the daemon closes the pipe.
  const readiness = await Promise.race([
    awaitReadiness(fd, timing.timeout > 0 ? timing.timeout : undefined),
    timing.interrupts.received,
  ]);
  if (typeof readiness === "string") {
    const waiting = `waiting for pid ${pid} to report ready`;
    throw await _interrupted(readiness, waiting, pid, pidfile, timing.stopTimeout);
  }
  switch (readiness.outcome) {
    case "ready":
      return readiness.message;
    case "failed":
      if (await waitForExit(pid, timing.stopTimeout) === null) {
        await _abort(pid, pidfile, timing.stopTimeout);
      } else _clear(pid, pidfile);
      throw new OpsdError(readiness.message, readiness.code as ExitCode);
    case "timeout":
      await _abort(pid, pidfile, timing.stopTimeout);
      throw new OpsdError(
        `pid ${pid} did not report ready within ${formatDuration(timing.timeout)}: stopped it; ` +
          `if it needs longer, raise ${timing.option} (0: no limit)`,
        ExitCode.timeout,
      );
    case "closed": {
      const status = await waitForExit(pid, 1000);
      if (status === null) await _abort(pid, pidfile, timing.stopTimeout);
      else _clear(pid, pidfile);
      throw new OpsdError(
        status === null
          ? `pid ${pid} closed its ready fd without writing a newline: killed it`
          : `pid ${pid} ${describeExit(status)} before it reported ready`,
      );
    }
  }
}

/**
 * Stops the daemon's session: TERM and CONT, up to `grace` ms for the daemon to
 * exit (a supervisor takes its services down first), then KILL to whatever is
 * left; reaps it and removes its pidfile.
 */
async function _abort(pid: number, pidfile: string | null, grace: number): Promise<void> {
  signalSession(pid, SIGNALS.SIGTERM);
  signalSession(pid, SIGNALS.SIGCONT);
  await waitForExit(pid, grace);
  signalSession(pid, SIGNALS.SIGKILL);
  await waitForExit(pid, 5000);
  if (pidfile) removePidfile(pidfile);
}

/**
 * Stops the daemon opsd was starting when `signal` came, while `doing` (`starting
 * pid 42`), as {@linkcode _abort} does, and returns the error saying so, with exit
 * code 128 + the signal's number (130 for INT).
 */
async function _interrupted(
  signal: Deno.Signal,
  doing: string,
  pid: number,
  pidfile: string | null,
  grace: number,
): Promise<OpsdError> {
  await _abort(pid, pidfile, grace);
  const removed = pidfile ? ` and removed ${pidfile}` : "";
  return new OpsdError(
    `interrupted by ${signal} while ${doing}: stopped it${removed}`,
    (128 + SIGNALS[signal]) as ExitCode,
  );
}

/**
 * The signals that would end opsd while it starts a daemon (INT, TERM, HUP, QUIT, and
 * the others whose default action ends a process without pointing at a fault: USR2,
 * ALRM as `timeout -s ALRM` sends, …), caught for as long as this lives: the first
 * is recorded, and the start stops what it started instead of leaving it running,
 * unready and unreported. (USR1 is ignored: lib/process/debugger_signal.ts.)
 */
class _Interrupts implements Disposable {
  static readonly #SIGNALS: Deno.Signal[] = [
    ...["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const,
    ...QUIET_ENDING_SIGNALS,
  ];
  /** The first of them received, or null. */
  signal: Deno.Signal | null = null;
  /** Resolves to the first of them received. */
  readonly received: Promise<Deno.Signal>;
  readonly #listeners: [Deno.Signal, () => void][];

  constructor() {
    const { promise, resolve } = Promise.withResolvers<Deno.Signal>();
    this.received = promise;
    this.#listeners = _Interrupts.#SIGNALS.map((signal) => [signal, () => {
      this.signal ??= signal;
      resolve(this.signal);
    }]);
    for (const [signal, listener] of this.#listeners) Deno.addSignalListener(signal, listener);
  }

  [Symbol.dispose](): void {
    for (const [signal, listener] of this.#listeners) Deno.removeSignalListener(signal, listener);
  }
}

/** After the daemon exited: KILL what it left in its session, remove its pidfile. */
function _clear(pid: number, pidfile: string | null): void {
  signalSession(pid, SIGNALS.SIGKILL);
  if (pidfile) removePidfile(pidfile);
}

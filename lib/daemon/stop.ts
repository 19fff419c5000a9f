/**
 * Stopping a daemon named by its pidfile: signal it, wait for its lock to be
 * released, SIGKILL its whole session after a timeout, remove the pidfile. Only a
 * process proven to hold the pidfile is signalled, through a pidfd, so a pid reused
 * since the file was written is never hit.
 *
 * @module
 */

import { ExitCode, OpsdError } from "../errors.ts";
import { errorCode } from "../sys/errno.ts";
import { signalIfStill, signalSession } from "../process/signal.ts";
import { sessionMembers } from "../procfs/processes.ts";
import { SIGNALS } from "../sys/constants.ts";
import { isErrno } from "../sys/libc.ts";
import { signalName } from "../sys/signals.ts";
import {
  foreignLockMessage,
  lockHolderProcesses,
  pidHoldsPidfile,
  sessionHoldsPidfile,
} from "./lock_owner.ts";
import { absolutePath, liveProcess, OpenPidfile, removePidfile } from "./pidfile.ts";
import { delay } from "../within.ts";

/** How {@linkcode stopDaemon} stops a daemon. */
export interface StopOptions {
  /** The signal that asks the daemon to stop (default SIGTERM). */
  signal?: number;
  /** Milliseconds to wait for the daemon to go before SIGKILL (default 10 s). */
  timeout?: number;
  /** Milliseconds to wait after SIGKILL before giving up (default 5 s). */
  killTimeout?: number;
}

/** What {@linkcode stopDaemon} did. */
export type StopResult =
  | {
    /**
     * No daemon ran: no pidfile (`stale` false), or a stale one (its pid had exited,
     * or it held none), which was removed unless it changed meanwhile.
     */
    outcome: "not-running";
    path: string;
    /** The pid a stale pidfile named, or null. */
    pid: number | null;
    /** The pid names no live process (always false here). */
    alive: false;
    /** Whether a stale pidfile was there. */
    stale: boolean;
    /** Whether the stale pidfile was removed. */
    removed: boolean;
    /**
     * Why a stale pidfile was kept when opsd may not remove it (`read-only file
     * system`, `permission denied`); absent otherwise.
     */
    kept?: string;
  }
  | {
    /**
     * Nothing done: no process holds the pidfile's lock, yet its pid is a live
     * process, which may or may not be the daemon (pids are reused). It was not
     * signalled and the pidfile was kept.
     */
    outcome: "unlocked";
    path: string;
    pid: number;
    /** The pid names a live process (always true here). */
    alive: true;
    /** The live process's command name. */
    name: string;
  }
  | {
    outcome: "stopped";
    path: string;
    pid: number | null;
    /** The signal sent first, such as `SIGTERM`. */
    signal: string;
    /** Whether it took SIGKILL. */
    killed: boolean;
    /** Milliseconds from the first signal until the lock was released. */
    elapsed: number;
  };

/**
 * Stops the daemon holding the pidfile at `path`: sends `signal` to the pid it
 * names (or, when that process has exited but processes it started still hold the
 * lock, to every process left in its session, as it also does when that pid
 * exits first while they keep it); waits until the lock is released;
 * after `timeout` sends SIGKILL to every process of the daemon's session; removes
 * the pidfile. An unlocked pidfile is never acted on through its pid: it is removed
 * when its pid has exited or it holds none (`not-running`), and left as it is, its
 * pid unsignalled, when that pid is a live process (`unlocked`). Throws an
 * OpsdError with exit code 6 when the lock outlives SIGKILL, 4 when opsd may not
 * look at or signal the daemon, 2 when the file holds something other than a pid
 * (no pidfile: removing it would lose some other file named by mistake).
 */
export async function stopDaemon(path: string, options: StopOptions = {}): Promise<StopResult> {
  const { signal = SIGNALS.SIGTERM, timeout = 10_000, killTimeout = 5_000 } = options;
  using pidfile = OpenPidfile.open(path);
  if (!pidfile) {
    return {
      outcome: "not-running",
      path: absolutePath(path),
      pid: null,
      alive: false,
      stale: false,
      removed: false,
    };
  }
  if (!pidfile.locked()) {
    // No daemon holds it: its pid is never signalled. A live one is left to the operator.
    const process = liveProcess(pidfile.pid);
    if (process) {
      const { pid, name } = process;
      return { outcome: "unlocked", path: pidfile.path, pid, alive: true, name };
    }
    const { pid } = pidfile;
    const stale = {
      outcome: "not-running",
      path: pidfile.path,
      pid,
      alive: false,
      stale: true,
    } as const;
    try {
      return { ...stale, removed: removePidfile(pidfile.path, pidfile.file) };
    } catch (error) {
      // Not running all the same: a stale file opsd may not remove is said, not an error.
      const kept = _cannotRemove(error);
      if (kept === null) throw error;
      return { ...stale, removed: false, kept };
    }
  }
  const { pid } = pidfile;
  if (pid === null) throw _foreignLock(pidfile, pid);
  const started = Date.now();
  // "gone": it exited since the look above (a stop run beside this one): nothing to signal.
  const reached = _permitted(pid, () => _signalDaemon(pidfile, pid, signal));
  // Sent to the session already (the pid had gone): not sent to it again while waiting.
  let forwarded = reached === "session";
  // A pid that goes while what it started keeps the lock (`sh -c 'prog'`: sh dies of TERM, prog
  // does not get it) is not the daemon any more: the processes left in its session get the signal.
  const whileWaiting = () =>
    _permitted(pid, () => {
      if (forwarded || pidHoldsPidfile(pidfile.file, pid)) return;
      forwarded = true;
      _signalHoldingSession(pidfile, pid, signal);
    });
  let killed = false;
  if (!await _released(pidfile, timeout, whileWaiting)) {
    killed = true;
    _permitted(pid, () => _signalHoldingSession(pidfile, pid, SIGNALS.SIGKILL));
    if (!await _released(pidfile, killTimeout)) {
      throw new OpsdError(
        `${pidfile.path} is still locked ${killTimeout / 1000} s after SIGKILL to pid ${pid}'s ` +
          `session: a process outside it holds the lock; find it with 'opsd fds --path ${pidfile.path}'`,
        ExitCode.timeout,
      );
    }
  }
  removePidfile(pidfile.path, pidfile.file);
  const elapsed = Date.now() - started;
  return {
    outcome: "stopped",
    path: pidfile.path,
    pid,
    signal: signalName(signal),
    killed,
    elapsed,
  };
}

/**
 * Sends `signal` to `pid` if it holds the pidfile; else (it exited, and processes
 * it started keep the lock) to every process of its session. These are the
 * questions `lockOwner` (lock_owner.ts) asks, each asked here right before its
 * signal. Signals nothing when neither holds it: "gone" when the lock has been
 * released meanwhile (the daemon exited: another stop got there first), else it
 * throws an error naming the lock's holders (the file names a pid that is not the
 * daemon).
 */
function _signalDaemon(
  pidfile: OpenPidfile,
  pid: number,
  signal: number,
): "pid" | "session" | "gone" {
  if (signalIfStill(pid, signal, () => pidHoldsPidfile(pidfile.file, pid))) return "pid";
  if (_signalHoldingSession(pidfile, pid, signal)) return "session";
  if (!pidfile.locked()) return "gone";
  throw _foreignLock(pidfile, pid);
}

/**
 * Sends `signal` to every process of session `pid` when one of them holds the
 * pidfile (one listing of the session for both); whether any got it.
 */
function _signalHoldingSession(pidfile: OpenPidfile, pid: number, signal: number): boolean {
  const members = sessionMembers(pid);
  return sessionHoldsPidfile(pidfile.file, pid, members) &&
    signalSession(pid, signal, members) > 0;
}

/** The error for a pidfile locked by others than the pid it names: nothing was signalled. */
function _foreignLock(pidfile: OpenPidfile, pid: number | null): OpsdError {
  const holders = lockHolderProcesses(pidfile.file);
  return new OpsdError(foreignLockMessage(pidfile.path, pid, holders, "nothing signalled"));
}

/** Runs `action`, turning a permission failure into one line saying what to do. */
function _permitted<T>(pid: number, action: () => T): T {
  try {
    return action();
  } catch (error) {
    const denied = error instanceof Deno.errors.PermissionDenied ||
      isErrno(error, "EPERM", "EACCES");
    if (!denied) throw error;
    throw new OpsdError(
      `not allowed to signal pid ${pid}: run opsd as root or as the daemon's user`,
      ExitCode.permission,
      { cause: error },
    );
  }
}

/**
 * Waits up to `ms` for the pidfile's lock to be released; whether it was.
 * `meanwhile` runs at each look while it is not.
 */
async function _released(
  pidfile: OpenPidfile,
  ms: number,
  meanwhile: () => void = () => {},
): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (let pause = 2; pidfile.locked(); pause = Math.min(pause * 2, 50)) {
    if (Date.now() >= deadline) return false;
    meanwhile();
    await delay(pause);
  }
  return true;
}

/** Why removing a stale pidfile failed, when it was for lack of a right; else null. */
function _cannotRemove(error: unknown): string | null {
  const cause = error instanceof OpsdError ? error.cause : error;
  switch (errorCode(cause)) {
    case "EROFS":
      return "read-only file system";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    default:
      return null;
  }
}

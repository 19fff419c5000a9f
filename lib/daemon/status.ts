/**
 * What `opsd daemon status` answers: whether a daemon runs under a pidfile (from
 * its lock) and, when one does, whether the pid the file names is that daemon,
 * decided as `daemon stop` decides what to signal (lock_owner.ts); and the line
 * that says so, which a start refused by the lock says too.
 *
 * @module
 */

import { escapeText } from "../text/escape.ts";
import { shellQuote, suggestCommand } from "../text/command.ts";
import {
  describeHolders,
  foreignLockMessage,
  lockHolderProcesses,
  type LockOwner,
  lockOwner,
} from "./lock_owner.ts";
import {
  type FoundPidfile,
  inspectPidfile,
  type LiveProcess,
  type PidfileState,
} from "./pidfile.ts";

/**
 * A pidfile's state for `daemon status`: {@linkcode PidfileState}'s, except that a
 * locked pidfile is `running` only when the pid it names holds the lock, or that
 * pid's session does (`owner` says which), and `foreign` when neither does (owner
 * `other`): the lock is held, but nothing shows its holder is the daemon of that
 * pid. `owner` is `unchecked` when opsd may not read the fds of the processes
 * concerned (another user's, without root): then it is `running` as the lock and
 * the file say, unverified; and null for an unlocked file.
 */
export type DaemonStatus =
  | { state: "missing"; path: string }
  | Omit<FoundPidfile, "state"> & {
    state: "running" | "foreign" | "unlocked" | "stale";
    owner: LockOwner | "unchecked" | null;
    /**
     * The processes holding the lock when the pid the file names is not one (owner
     * `session` or `other`); else null.
     */
    holders: LiveProcess[] | null;
  };

/**
 * The state of the pidfile at `path` (see {@linkcode DaemonStatus}). Throws an
 * OpsdError with exit code 4 when the pidfile cannot be read.
 */
export function daemonStatus(path: string): DaemonStatus {
  const found = inspectPidfile(path);
  if (found.state !== "running") return _notLocked(found);
  const owner = _owner(found);
  if (owner === "pid" || owner === "unchecked") return { ...found, owner, holders: null };
  const holders = lockHolderProcesses(found.file);
  // The daemon may have gone while opsd looked: then the file says so now.
  const again = inspectPidfile(path);
  if (again.state !== "running") return _notLocked(again);
  return { ...found, state: owner === "other" ? "foreign" : "running", owner, holders };
}

/**
 * What `daemon status` says about a pidfile, in one line: only what the lock and
 * /proc show, such as `running (pid 4242)`.
 */
export function statusLine(found: DaemonStatus): string {
  switch (found.state) {
    case "running":
      // The lock is the truth; the pid is only what the daemon wrote.
      if (found.owner === "session") {
        const what = found.process === null ? "has exited" : "does not hold the lock";
        const by = describeHolders(found.path, found.holders ?? []);
        return `running (pid ${found.pid} it names ${what}; its session holds the lock: ${by})`;
      }
      if (found.owner === "unchecked") {
        // Some process holds the lock; opsd may not read the fds that would say which.
        if (found.process === null) {
          const by = describeHolders(found.path, []);
          return `running (pid ${found.pid} it names has exited; the lock is held by ${by})`;
        }
        return `running (pid ${found.pid}, as the pidfile says: opsd may not read its fds to ` +
          "check that it holds the lock; run as root to check)";
      }
      return `running (pid ${found.pid})`;
    case "foreign":
      return foreignLockMessage(found.path, found.pid, found.holders ?? []);
    case "unlocked": {
      const name = escapeText(found.process!.name);
      return `not running under this pidfile: no process holds its lock; ` +
        `pid ${found.pid} (${name}) is alive but may not be the daemon ` +
        `(pids are reused): check it, then remove ${shellQuote(found.path)}`;
    }
    case "stale":
      return found.pid === null
        ? `not running (pidfile ${found.path} holds no pid, and no process holds its lock)`
        : `not running (stale pidfile ${found.path}: pid ${found.pid} has exited)`;
    case "missing":
      return `not running (no pidfile ${found.path})`;
  }
}

/**
 * Why no daemon may start under the pidfile at `path`, whose lock is held, in
 * `daemon status`'s words: `already running (pid 4242): stop it with …`, or, when
 * neither the pid it names nor that pid's session holds the lock (a program that
 * put itself in the background), the foreign-lock line naming its holders. Null
 * when the lock was released meanwhile.
 */
export function alreadyRunningMessage(path: string): string | null {
  const found = daemonStatus(path);
  if (found.state === "foreign") {
    return foreignLockMessage(found.path, found.pid, found.holders ?? [], "nothing started");
  }
  if (found.state !== "running") return null;
  const stop = suggestCommand("opsd", "daemon", "stop", "--pidfile", found.path);
  return `already ${statusLine(found)}: stop it with ${stop}`;
}

/** An unlocked (or missing) pidfile's state, as it is: there is no lock to ask about. */
function _notLocked(found: PidfileState): DaemonStatus {
  return found.state === "missing" ? found : { ...found, owner: null, holders: null };
}

/** {@linkcode lockOwner} for a locked pidfile; `unchecked` when opsd may not look. */
function _owner({ file, pid }: FoundPidfile): LockOwner | "unchecked" {
  try {
    return lockOwner(file, pid);
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied) return "unchecked";
    throw error;
  }
}

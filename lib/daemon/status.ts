/**
 * What `opsd daemon status` answers: whether a daemon runs under a pidfile (from
 * its lock) and, when one does, whether the pid the file names is that daemon,
 * decided as `daemon stop` decides what to signal (lock_owner.ts).
 *
 * @module
 */

import { lockHolderProcesses, type LockOwner, lockOwner } from "./lock_owner.ts";
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

/**
 * Whether the pid a locked pidfile names is the daemon holding its lock: the one
 * decision `daemon stop` (what it may signal) and `daemon status` (what it reports)
 * share. The lock says a daemon runs; only /proc says whether the pid written in
 * the file is it, since anyone may rewrite the file or take the lock (a pid reused,
 * a file edited by hand, an unrelated process that locked it).
 *
 * @module
 */

import type { FileIdentity } from "../procfs/holds.ts";
import { lockHolders, processHoldsFile } from "../procfs/holds.ts";
import { sessionMembers } from "../procfs/processes.ts";
import { escapeText } from "../text/escape.ts";
import { shellQuote, suggestCommand } from "../text/command.ts";
import { type LiveProcess, liveProcess, PIDFILE_FD } from "./pidfile.ts";

/**
 * Who holds a locked pidfile's lock, from the pid it names: `pid`, that process
 * (the daemon); `session`, not that process but one of its session (what the
 * daemon started, after it exited or closed fd 3); `other`, neither (or the file
 * names no pid): nothing shows that the lock's holder is the daemon of that pid.
 */
export type LockOwner = "pid" | "session" | "other";

/**
 * Who holds the lock of the pidfile `file`, which names `pid` (see
 * {@linkcode LockOwner}). Throws `Deno.errors.PermissionDenied` when opsd may not
 * read the fds of the processes concerned (another user's, without root).
 */
export function lockOwner(file: FileIdentity, pid: number | null): LockOwner {
  if (pid === null) return "other";
  if (pidHoldsPidfile(file, pid)) return "pid";
  return sessionHoldsPidfile(file, pid) ? "session" : "other";
}

/** Whether `pid` holds the pidfile `file` open (a daemon holds it on fd 3): {@linkcode lockOwner}'s first question. */
export function pidHoldsPidfile(file: FileIdentity, pid: number): boolean {
  return processHoldsFile(pid, file, PIDFILE_FD);
}

/**
 * Whether a process of session `pid` holds the pidfile `file` open: {@linkcode
 * lockOwner}'s second question. Once every member is gone, a new process may get
 * that pid and lead a session of that id, holding nothing of the daemon's.
 * `members`: the session as the caller has just listed it (else it is listed here).
 */
export function sessionHoldsPidfile(
  file: FileIdentity,
  pid: number,
  members: readonly number[] = sessionMembers(pid),
): boolean {
  return members.some((member) => processHoldsFile(member, file, PIDFILE_FD));
}

/**
 * The live processes that hold the lock of the pidfile `file`, from their fdinfo;
 * those opsd may not look at (another user's, without root) are missing.
 */
export function lockHolderProcesses(file: FileIdentity): LiveProcess[] {
  return lockHolders(file).map(liveProcess).filter((process) => process !== null);
}

/**
 * The lock holders of the pidfile at `path` as `pid 4242 (server), pid 4250 (sh)`,
 * their names made safe to print; when opsd saw none, how to find them.
 */
export function describeHolders(path: string, holders: readonly LiveProcess[]): string {
  if (holders.length === 0) {
    const find = suggestCommand("opsd", "fds", "--path", path);
    return `a process opsd may not see (find it as root with ${find})`;
  }
  return holders.map(({ pid, name }) => `pid ${pid} (${escapeText(name)})`).join(", ");
}

/**
 * The one line for a pidfile at `path` whose lock `holders` hold while it names
 * `pid`, which is neither one of them nor in their session (lockOwner `other`):
 * who holds the lock, what became of `pid`, then `done` (what opsd did, such as
 * `nothing signalled`) and what to do.
 *
 * @example
 * ```ts
 * foreignLockMessage("/run/web.pid", 8211, [{ pid: 4242, name: "server" }], "nothing signalled");
 * // "/run/web.pid is locked by pid 4242 (server); pid 8211 (sleep), which it names, is alive
 * //  but does not hold the lock: nothing signalled; check which process is the daemon, …"
 * ```
 */
export function foreignLockMessage(
  path: string,
  pid: number | null,
  holders: readonly LiveProcess[],
  done?: string,
): string {
  const named = liveProcess(pid);
  const what = pid === null
    ? "it names no pid"
    : named
    ? `pid ${pid} (${escapeText(named.name)}), which it names, is alive but does not hold the lock`
    : `pid ${pid}, which it names, has exited and nothing is left in its session`;
  const action = named || pid === null
    ? "check which process is the daemon, stop it yourself, "
    : "if the program puts itself in the background, run it in the foreground under opsd; " +
      "stop the lock's holder yourself, ";
  return `${path} is locked by ${describeHolders(path, holders)}; ${what}: ${
    done ? `${done}; ` : ""
  }${action}` +
    `then remove ${shellQuote(path)}`;
}

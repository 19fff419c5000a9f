/**
 * A service's state directory (`supervise/`, mode 0700): the lock a running
 * supervisor holds, the status file it replaces atomically after every change,
 * and its control socket. Readers decide whether a supervisor runs from the lock
 * alone, never from a pid that may be stale or reused.
 *
 * @module
 */

import { ExitCode, OpsdError, UsageError } from "../errors.ts";
import { dirname } from "../path.ts";
import type { ServicePaths } from "../service/paths.ts";
import { LOCK, O } from "../sys/constants.ts";
import { close, flock, getLock, isErrno, open, openAt, setLock } from "../sys/libc.ts";
import { flockHolder } from "../procfs/locks.ts";
import { readProcStat } from "../procfs/stat.ts";
import { userName } from "../procfs/users.ts";
import { parseStatusRecord, type ServiceStatus } from "./status.ts";
import { errorCode } from "../sys/errno.ts";
import { errorReason } from "../file_error.ts";
import { suggestCommand } from "../text/command.ts";
import { escapeText } from "../text/escape.ts";

/** The lock file: an OFD write lock on it means a supervisor runs; it holds that supervisor's pid. */
export function lockPath(paths: ServicePaths): string {
  return `${paths.stateDir}/lock`;
}

/** The status file, replaced atomically (`status.json.new`, then rename). */
export function statusPath(paths: ServicePaths): string {
  return `${paths.stateDir}/status.json`;
}

/** The control socket (unix stream, mode 0600). */
export function controlPath(paths: ServicePaths): string {
  return `${paths.stateDir}/control`;
}

/**
 * Where a detached supervisor (`opsd supervise --daemon`) logs a service's output
 * when its settings name no log file: `current` in the state directory, rotated
 * by the `log-max-size` and `log-keep` settings.
 */
export function detachedLogFile(paths: ServicePaths): string {
  return `${paths.stateDir}/current`;
}

/**
 * Where a detached supervisor writes its own messages (what it prints on stderr in
 * the foreground): `opsd.log` in the state directory, rotated at 1 MiB, one old file kept.
 */
export function messagesPath(paths: ServicePaths): string {
  return `${paths.stateDir}/opsd.log`;
}

/**
 * The state directory held open by a supervisor: `path` (`/proc/self/fd/N`) reaches
 * it through `fd` wherever it is moved, so a service directory renamed while
 * supervised keeps a truthful status file (its supervisor can no longer start `run`
 * by its old path, and says so there), as daemontools' `supervise`, which works
 * inside the directory, keeps its own; `dev` and `ino` name it, to tell whether the
 * directory at its path is still this one ({@linkcode isStateDirAt}).
 */
export interface PinnedStateDir {
  fd: number;
  path: string;
  dev: number;
  ino: number;
}

/** What {@linkcode acquireLock} holds: the fds holding the locks, and the state directory. */
export interface StateLock {
  /** The fds holding the locks (close-on-exec): closing them releases the service. */
  locks: number[];
  /** The state directory the lock is in, held open; its fd is the caller's to close too. */
  dir: PinnedStateDir;
}

/**
 * Makes the state directory (mode 0700) and takes its lock for this process,
 * writing our pid into it. Returns the fds that hold the locks (close-on-exec:
 * no child holds them, so the locks end with this process), and the state
 * directory, held open as it was checked (the lock is opened through it). Throws
 * exit 5 (busy) naming the holder when another supervisor has it.
 *
 * The lock is an OFD lock, and also a `flock(2)` lock on the same file: that is
 * how daemontools' `supervise` and runit's `runsv` lock `supervise/lock`, so
 * neither can run a service beside opsd, in either order. A script is also
 * locked through its real file (symlinks resolved), so that it never runs
 * twice under two names, each name keeping its own settings and state.
 */
export function acquireLock(paths: ServicePaths): StateLock {
  let dir: PinnedStateDir;
  let existed: boolean;
  try {
    existed = _ownerIfAny(paths.stateDir) !== null;
    Deno.mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
    try {
      if (Deno.uid() === 0) _checkRootOnly(paths);
    } catch (error) {
      if (!existed) Deno.removeSync(paths.stateDir);
      throw error;
    }
    dir = _secureStateDir(paths);
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists && _isSymlink(paths.stateDir)) {
      throw new UsageError(
        `${paths.stateDir} is a symlink to ${Deno.readLinkSync(paths.stateDir)}, which is ` +
          "not a directory: make that directory (mode 0700), or remove the link",
      );
    }
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new UsageError(
        `${paths.stateDir} is a file, not the state directory: remove or rename it`,
      );
    }
    throw _deniedOr(paths, error);
  }
  const fds: number[] = [];
  try {
    fds.push(_lockIn(paths, dir));
    if (paths.form === "script") fds.push(_lockScript(paths));
    _writePid(paths, dir);
  } catch (error) {
    // A state directory made for this start goes, while its lock is still ours (refused under
    // a second name, or a full disk); nothing stays held (a supervisor of many services goes
    // on without this one).
    if (!existed && fds.length > 0) _removeNewStateDir(paths, dir);
    [...fds, dir.fd].forEach(close);
    throw error;
  }
  return { locks: fds, dir };
}

/**
 * Writes our pid into the lock file, through another fd: closing it releases
 * neither lock (both belong to the fd that took them). A failure (a full disk)
 * names the file by its path, with what to do.
 */
function _writePid(paths: ServicePaths, dir: PinnedStateDir): void {
  try {
    Deno.writeTextFileSync(`${dir.path}/lock`, `${Deno.pid}\n`);
  } catch (error) {
    const code = errorCode(error);
    const advice = code === "EFBIG"
      ? ": lift the file size limit (ulimit -f)"
      : code === "ENOSPC" || code === "EDQUOT"
      ? ": free space on that file system"
      : "";
    throw new OpsdError(
      `cannot write this supervisor's pid into ${lockPath(paths)}: ${errorReason(error)}${advice}`,
      ExitCode.failure,
      { cause: error },
    );
  }
}

/**
 * Removes the state directory this start made (held as `dir`), and the lock file
 * in it; left as it is when anything else is there.
 */
function _removeNewStateDir(paths: ServicePaths, dir: PinnedStateDir): void {
  try {
    Deno.removeSync(`${dir.path}/lock`);
    Deno.removeSync(paths.stateDir);
  } catch {
    // Not ours alone after all: it stays.
  }
}

/** Closes what {@linkcode acquireLock} holds: the locks end, the state directory is let go. */
export function releaseLock(held: StateLock): void {
  [...held.locks, held.dir.fd].forEach(close);
}

/**
 * Opens the lock file in the state directory `dir` holds and takes both its locks
 * (OFD, then flock); throws exit 5 naming the holder when either is held.
 */
function _lockIn(paths: ServicePaths, dir: PinnedStateDir): number {
  let fd: number;
  try {
    fd = openAt(dir.fd, "lock", O.RDWR | O.CREAT | O.CLOEXEC, 0o600, lockPath(paths));
  } catch (error) {
    throw _deniedOr(paths, error);
  }
  if (!setLock(fd, "ofd", "write")) {
    close(fd);
    const holder = _lockHolder(paths);
    const status = suggestCommand("opsd", "status", paths.path);
    const exit = suggestCommand("opsd", "exit", paths.path);
    throw new OpsdError(
      `${paths.path} is already supervised${holder ? ` by pid ${holder}` : ""}: ` +
        `use ${status}, or ${exit} to stop that supervisor`,
      ExitCode.busy,
    );
  }
  if (!flock(fd, LOCK.EX | LOCK.NB)) {
    close(fd);
    const holder = flockHolderOf(lockPath(paths));
    const named = holder && ` (pid ${holder.pid}${holder.name ? `, ${holder.name}` : ""})`;
    throw new OpsdError(
      `${paths.path} is already supervised by another supervisor${named ?? ""}, which holds ` +
        `${lockPath(paths)} with flock, as daemontools and runit do: stop it first`,
      ExitCode.busy,
    );
  }
  return fd;
}

/** A flock on the script's real file, held while it is supervised under any name. */
function _lockScript(paths: ServicePaths): number {
  const real = Deno.realPathSync(paths.run);
  const fd = open(real, O.RDONLY | O.CLOEXEC);
  if (flock(fd, LOCK.EX | LOCK.NB)) return fd;
  close(fd);
  const by = flockHolderOf(real)?.pid;
  throw new OpsdError(
    `${paths.path} is already supervised under another name (${real} is locked` +
      `${by === undefined ? "" : ` by pid ${by}`}): a script runs under one supervisor at a time`,
    ExitCode.busy,
  );
}

/**
 * The process holding a flock on `path` (another supervisor: daemontools',
 * runit's, or opsd's on a script), with its command name made safe to print;
 * null when none does.
 */
export function flockHolderOf(path: string): { pid: number; name: string | null } | null {
  const pid = flockHolder(path);
  if (pid === null) return null;
  const comm = readProcStat(pid)?.comm;
  return { pid, name: comm === undefined ? null : escapeText(comm) };
}

/**
 * The pid of the supervisor holding the service's lock, or null when none does
 * (no state directory, no lock file, or a lock file nobody holds).
 */
export function runningSupervisor(paths: ServicePaths): number | null {
  let fd: number;
  try {
    fd = open(lockPath(paths), O.RDONLY | O.CLOEXEC);
  } catch (error) {
    if (isErrno(error, "ENOENT", "ENOTDIR")) return null;
    throw _deniedOr(paths, error);
  }
  try {
    if (getLock(fd, "ofd", "write") === null) return null;
  } finally {
    close(fd);
  }
  return _lockHolder(paths) ?? -1;
}

function _lockHolder(paths: ServicePaths): number | null {
  try {
    const pid = Number(Deno.readTextFileSync(lockPath(paths)).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Replaces the status file atomically: a reader sees the old record or the new one, never half.
 * `stateDir` is where the state directory is reached (by default its path; a supervisor
 * passes its {@linkcode PinnedStateDir}'s, so its records follow the directory when it is renamed).
 */
export function writeStatus(
  paths: ServicePaths,
  status: ServiceStatus,
  stateDir = paths.stateDir,
): void {
  const path = `${stateDir}/status.json`;
  try {
    Deno.writeTextFileSync(`${path}.new`, `${JSON.stringify(status)}\n`, { mode: 0o600 });
    Deno.renameSync(`${path}.new`, path);
  } catch (error) {
    try {
      Deno.removeSync(`${path}.new`);
    } catch {
      // Never written.
    }
    // Named by its path, not by the fd it was reached through.
    throw new Error(`${statusPath(paths)}: ${errorReason(error)}`, { cause: error });
  }
}

/**
 * Whether the state directory at its path is still the one `pinned` holds: false
 * once the service has been moved or removed, or replaced by a new directory of the
 * same name. A failure to look other than its absence (EACCES, EIO) is no sign of a
 * move: true.
 */
export function isStateDirAt(paths: ServicePaths, pinned: PinnedStateDir): boolean {
  let here: Deno.FileInfo;
  try {
    here = Deno.statSync(paths.stateDir);
  } catch (error) {
    // Gone (ENOENT, ENOTDIR) is moved; another failure (EACCES, EIO) says nothing of where it is.
    return !(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory);
  }
  return here.ino === pinned.ino && here.dev === pinned.dev;
}

/**
 * The last status a supervisor wrote, or null when there is none (never
 * supervised). A file that is not an opsd status record (damaged, or another
 * tool's) is an error (exit 1) that names it and says what to do.
 */
export function readStatus(paths: ServicePaths): ServiceStatus | null {
  const path = statusPath(paths);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return null;
    }
    if (!(error instanceof Deno.errors.IsADirectory)) throw _deniedOr(paths, error);
    text = ""; // A directory where the file should be: damaged, as said below.
  }
  try {
    return parseStatusRecord(text);
  } catch (error) {
    throw new OpsdError(
      `${path} is damaged or not opsd's (${(error as Error).message}): remove it; ` +
        "a running supervisor writes it again at its next change, a new one at its start",
    );
  }
}

/**
 * The last status a supervisor wrote, or null when there is none or it cannot be
 * read (damaged, another tool's, not ours): for messages that only add what the
 * record knows, where `opsd status` says what is wrong with it.
 */
export function readStatusOrNull(paths: ServicePaths): ServiceStatus | null {
  try {
    return readStatus(paths);
  } catch {
    return null;
  }
}

function _isSymlink(path: string): boolean {
  return Deno.lstatSync(path).isSymlink;
}

/**
 * Opens the state directory and makes it mode 0700, through an fd opened without
 * following a symlink (one put there meanwhile is not followed); root refuses one
 * that another user owns (they could have put links in it to files of root's). A
 * state directory that is a symlink (runit's layout: `supervise -> /run/runit/…`) is
 * used as it is, never chmod'ed: whoever may write the service directory could point
 * it anywhere (at /etc). Its target must then be this user's with mode 0700, or
 * others could swap the lock, status or control socket in it, or be handed files
 * there. Returns the directory, held open by the fd it was checked through.
 */
function _secureStateDir(paths: ServicePaths): PinnedStateDir {
  let fd: number, linked = false;
  try {
    fd = open(paths.stateDir, O.RDONLY | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC);
  } catch (error) {
    // A symlink there: ENOTDIR (O_DIRECTORY looks at the link itself) or ELOOP.
    if (!isErrno(error, "ENOTDIR", "ELOOP")) throw error;
    fd = open(paths.stateDir, O.RDONLY | O.DIRECTORY | O.CLOEXEC);
    linked = true;
  }
  try {
    const held = `/proc/self/fd/${fd}`;
    const info = Deno.statSync(held), uid = Deno.uid()!;
    const pinned = { fd, path: held, dev: info.dev, ino: info.ino! };
    // Root writes its files there: in another user's directory, through links they put there.
    if (!linked && info.uid !== uid && uid === 0) {
      throw new UsageError(
        `${paths.stateDir} is ${userName(info.uid!)}'s, and root writes its state there: ` +
          `remove it (opsd makes it again), or make it root's`,
      );
    }
    if (!linked) {
      Deno.chmodSync(held, 0o700);
      return pinned;
    }
    if (info.uid === uid && (info.mode! & 0o077) === 0) return pinned;
    const target = Deno.readLinkSync(held);
    throw new UsageError(
      `${paths.stateDir} is a symlink to ${target}, which ` +
        (info.uid === uid
          ? `others may use (mode ${_octalMode(info.mode!)})`
          : `is ${userName(info.uid!)}'s`) +
        `: make ${target} ${userName(uid)}'s with mode 0700, or remove the link`,
    );
  } catch (error) {
    close(fd);
    throw error;
  }
}

/**
 * As root: the state directory must be where root alone may replace it — in a
 * directory of root's that others may not write (or a sticky one, as /tmp, with a
 * state directory or link of root's) — for another user could otherwise swap it for
 * a link between opsd's checks and its writes, and have root write files (the
 * service's output, under --daemon) anywhere, such as /etc/cron.d.
 */
function _checkRootOnly(paths: ServicePaths): void {
  const parent = dirname(paths.stateDir);
  const info = Deno.statSync(parent), mode = info.mode! & 0o7777;
  const sticky = (mode & 0o1000) !== 0;
  const othersWrite = (mode & 0o002) !== 0 || ((mode & 0o020) !== 0 && info.gid !== 0);
  const name = paths.stateDir.slice(parent.length + 1);
  const owner = sticky ? _ownerIfAny(paths.stateDir) : null;
  let problem: string | null = null;
  if (info.uid !== 0) problem = `${parent} is ${userName(info.uid!)}'s`;
  else if (othersWrite && !sticky) {
    problem = `others may write ${parent} (mode ${_octalMode(mode)})`;
  } else if (owner !== null && owner !== 0) {
    problem = `${paths.stateDir} in sticky ${parent} is ${userName(owner)}'s`;
  }
  if (problem === null) return;
  throw new UsageError(
    `${problem}: run as root, opsd keeps state only where root alone may replace it (else ` +
      `${name} could be swapped for a link, and root would write its files there): make ` +
      `${parent} root's and not writable by others, or supervise as that user`,
  );
}

/** A mode's permission bits as `ls` users write them: `755`, `1777`. */
function _octalMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(3, "0");
}

/** The owner of `path` itself (not following a link), or null when there is none. */
function _ownerIfAny(path: string): number | null {
  try {
    return Deno.lstatSync(path).uid;
  } catch {
    return null;
  }
}

/**
 * `error`, or — when it is a permission error — one that says whose the state
 * directory is and what to do (exit 4): the directory is mode 0700, so only its
 * owner (the user the supervisor runs as) and root may read or control it. On a
 * read-only file system (exit 4 too), it says how to keep the state elsewhere.
 */
function _deniedOr(paths: ServicePaths, error: unknown): unknown {
  const code = errorCode(error);
  if (code !== "EROFS" && code !== "EACCES" && code !== "EPERM") return error;
  const owner = _ownerOf(paths.stateDir);
  if (code === "EROFS") {
    return new OpsdError(
      `cannot ${owner === "missing" ? "make" : "use"} ${paths.stateDir}: read-only file ` +
        "system, and a supervisor writes its lock, status and control socket there: make it a " +
        "symlink to a directory on a writable file system (mode 0700, such as /run/opsd/NAME)",
      ExitCode.permission,
      { cause: error },
    );
  }
  if (owner === "missing") {
    // Not made yet: it is the directory it goes in that this user may not write.
    const parent = dirname(paths.stateDir);
    const parentOwner = _ownerOf(parent);
    return new OpsdError(
      `permission denied: cannot make ${paths.stateDir}: ${parent} is ` +
        `${typeof parentOwner === "number" ? `${userName(parentOwner)}'s` : "not this user's"}: ` +
        "run this as that user or as root",
      ExitCode.permission,
      { cause: error },
    );
  }
  return new OpsdError(
    `permission denied: the state of ${paths.path} (${paths.stateDir}, mode 0700` +
      `${typeof owner === "number" ? `, owned by ${userName(owner)}` : ""}) ` +
      "is its supervisor's user's: run this as that user or as root",
    ExitCode.permission,
    { cause: error },
  );
}

/** The uid owning `path`; `missing` when there is nothing; null when it cannot be seen. */
function _ownerOf(path: string): number | "missing" | null {
  try {
    return Deno.statSync(path).uid;
  } catch (error) {
    return error instanceof Deno.errors.NotFound ? "missing" : null;
  }
}

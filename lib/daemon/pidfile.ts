/**
 * Pidfiles that cannot go stale. A pidfile holds the daemon's pid and a newline;
 * the daemon itself holds an OFD write lock over the whole file, through the open
 * file it was started with as fd {@linkcode PIDFILE_FD}. The lock is the truth:
 * it lives exactly as long as the daemon (and anything that inherited that fd), it
 * survives exec, and the daemon opening, reading and closing its own pidfile does
 * not drop it (OFD locks belong to the open file, not to the process).
 *
 * The protocol, for every opsd that starts, stops or cleans up a daemon:
 * - running means: a lock over byte 0 is held (only the daemon's lock covers it);
 * - whoever replaces or removes FILE first takes the *guard*, a write lock on one
 *   byte far past the pid ({@linkcode _GUARD}), of the file FILE names, and checks
 *   that FILE still names that file. The daemon's whole-file lock covers the guard
 *   byte too, so holding the guard means: no daemon holds this file, and no other
 *   opsd is replacing it;
 * - a start writes its pid into `FILE.new` (locked before the daemon starts, so the
 *   lock exists from the daemon's first instruction) and renames it over FILE: a
 *   reader sees the old file or the whole new one, never half of it.
 *
 * @module
 */

import { ExitCode, OpsdError, UsageError } from "../errors.ts";
import { O } from "../sys/constants.ts";
import { close, getLock, isErrno, open, pread, pwrite, setLock } from "../sys/libc.ts";
import type { FileIdentity } from "../procfs/holds.ts";
import { isLive, readProcStat } from "../procfs/stat.ts";
import { fileError } from "../file_error.ts";
import { suggestCommand } from "../text/command.ts";

/** The fd a daemon holds its pidfile lock on; also in its environment as `OPSD_PIDFILE_FD`. */
export const PIDFILE_FD = 3;

/** The variables that tell a daemon about its pidfile: the lock fd and the file's path. */
export const PIDFILE_ENV = { fd: "OPSD_PIDFILE_FD", path: "OPSD_PIDFILE" } as const;

// Only the daemon's whole-file lock covers byte 0.
const _DAEMON_LOCK = { start: 0, length: 1 };
// Starters and removers take this byte; the daemon's whole-file lock covers it too.
const _GUARD = { start: 2 ** 40, length: 1 };
// How often to retry when FILE is replaced between opening and locking it.
const _RETRIES = 100;

/**
 * What a pidfile says. `running`: a daemon holds its lock (whether the pid it names
 * is that daemon, lock_owner.ts tells). Otherwise no daemon runs under it, and the
 * pid it names is never trusted (pids are reused): `unlocked` when that pid is a
 * live process, which may or may not be the daemon; `stale` when it has exited or
 * the file holds no pid; `missing` when there is no file.
 */
export type PidfileState = FoundPidfile | { state: "missing"; path: string };

/** A {@linkcode PidfileState} for a file that is there. */
export interface FoundPidfile {
  state: "running" | "unlocked" | "stale";
  path: string;
  /** The pid the file holds, or null when it holds none. */
  pid: number | null;
  /** The process that pid names now, if one lives (see {@linkcode liveProcess}). */
  process: LiveProcess | null;
  file: FileIdentity;
}

/** A live process a pidfile's pid names: its pid and command name. */
export interface LiveProcess {
  pid: number;
  /** The command name the kernel keeps (at most 15 bytes), such as `sleep`. */
  name: string;
}

/**
 * The live process `pid` names now, or null when there is none (no pid, no such
 * process, or a zombie: it has exited). Only a fact about the pid: whether that
 * process is a daemon's is for the lock to say.
 */
export function liveProcess(pid: number | null): LiveProcess | null {
  if (pid === null || pid < 1) return null;
  const stat = readProcStat(pid);
  return stat === null || !isLive(stat) ? null : { pid, name: stat.comm };
}

/**
 * A pidfile opened read-only to ask about its lock; closing it never touches the
 * lock. Keeps naming the same file even if FILE is replaced meanwhile.
 */
export class OpenPidfile implements Disposable {
  /** Opens `path` (made absolute); null when there is no such file. */
  static open(path: string): OpenPidfile | null {
    const absolute = absolutePath(path);
    let fd: number;
    try {
      _refuseOtherThanFile(absolute);
      fd = open(absolute, O.RDONLY | O.CLOEXEC | _NO_WAIT);
    } catch (error) {
      if (isErrno(error, "ENOENT", "ENOTDIR")) return null;
      if (error instanceof OpsdError) throw error;
      throw fileError("read pidfile", absolute, error);
    }
    try {
      const file = _identity(fd, absolute);
      const { pid, pidfile } = _readPidText(fd);
      return new OpenPidfile(absolute, fd, file, pid, pidfile);
    } catch (error) {
      close(fd);
      throw error;
    }
  }

  private constructor(
    /** The absolute path it was opened at. */
    readonly path: string,
    private readonly fd: number,
    /** The file's identity, to tell it from a later file at the same path. */
    readonly file: FileIdentity,
    /** The pid it names, or null when it holds none. */
    readonly pid: number | null,
    /** Whether it reads as a pidfile: a pid, or nothing (see `_readPidText`). */
    readonly holdsPidText: boolean,
  ) {}

  /** Whether a daemon holds this file's lock right now. */
  locked(): boolean {
    return getLock(this.fd, "ofd", "write", _DAEMON_LOCK) !== null;
  }

  /** Closes the file (the lock, held by the daemon, is not affected). */
  [Symbol.dispose](): void {
    close(this.fd);
  }
}

/**
 * Whether a daemon runs under the pidfile at `path`, answered from the lock alone;
 * for an unlocked file, also whether the pid it names is a live process. Throws a
 * UsageError for an unlocked file holding something other than a pid: no pidfile.
 */
export function inspectPidfile(path: string): PidfileState {
  using pidfile = OpenPidfile.open(path);
  if (!pidfile) return { state: "missing", path: absolutePath(path) };
  const locked = pidfile.locked();
  // No daemon holds a file of something else: a --pidfile naming a config by mistake.
  if (!locked && !pidfile.holdsPidText) throw _notPidfile(pidfile.path);
  const process = liveProcess(pidfile.pid);
  const state = locked ? "running" : process ? "unlocked" : "stale";
  return { state, path: pidfile.path, pid: pidfile.pid, process, file: pidfile.file };
}

/**
 * The right to start a daemon under a pidfile: holds the guard on FILE and a fresh
 * `FILE.new`, locked, whose fd ({@linkcode PidfileClaim.fd}) the daemon receives
 * as fd 3. {@linkcode PidfileClaim.commit} writes the pid and renames it into place;
 * disposing an uncommitted claim removes every file it made, so a failed start
 * leaves no pidfile behind.
 */
export class PidfileClaim implements Disposable {
  #fd = -1;
  #guard: number | null;
  #temp: string | null;
  readonly #guardFile: FileIdentity;
  /** The pid of the stale pidfile this claim replaces, if it named one. */
  readonly replaced: number | null;

  private constructor(
    /** The pidfile's absolute path. */
    readonly path: string,
    guard: _Guarded,
  ) {
    this.#guard = guard.fd;
    this.#guardFile = guard.file;
    this.#temp = `${path}.new`;
    this.replaced = guard.pid;
  }

  /**
   * Claims `path`. Throws a {@linkcode PidfileLocked} (exit code 5) when a daemon
   * holds it, an OpsdError with exit code 5 when another opsd is replacing it right
   * now, 2 when its directory does not exist or FILE holds something other than a
   * pid (no pidfile: some other file, never replaced), 4 when it cannot be written.
   */
  static claim(path: string): PidfileClaim {
    const absolute = absolutePath(path);
    const guard = _guard(absolute, true);
    if (guard === "missing") throw new Error("unreachable: a missing pidfile is created");
    if ("holder" in guard) throw _busy(absolute, guard);
    const claim = new PidfileClaim(absolute, guard);
    try {
      claim.#fd = _createLocked(claim.#temp!);
    } catch (error) {
      claim[Symbol.dispose]();
      throw error;
    }
    return claim;
  }

  /** `FILE.new`, locked over the whole file: give it to the daemon as fd 3. */
  get fd(): number {
    return this.#fd;
  }

  /**
   * Writes `pid` into `FILE.new`, renames it over FILE and closes opsd's fds: from
   * here on only the daemon holds the lock.
   */
  commit(pid: number): void {
    if (this.#temp === null) throw new Error("pidfile claim already committed or released");
    // pwrite: the daemon shares this open file, and its offset must stay at 0.
    pwrite(this.#fd, new TextEncoder().encode(`${pid}\n`), 0);
    _checkStillOurs(this.#temp, this.#fd);
    Deno.renameSync(this.#temp, this.path);
    this.#temp = null;
    this[Symbol.dispose]();
  }

  /**
   * Closes opsd's fds. Without a commit, removes `FILE.new`, and FILE too when it
   * names no pid (the claim created it, or it was a leftover with nothing in it).
   */
  [Symbol.dispose](): void {
    if (this.#temp !== null) {
      _removeQuietly(this.#temp);
      this.#temp = null;
    }
    if (this.#guard !== null) {
      if (this.replaced === null && _sameFile(_pathIdentity(this.path), this.#guardFile)) {
        _removeQuietly(this.path);
      }
      close(this.#guard);
      this.#guard = null;
    }
    if (this.#fd >= 0) close(this.#fd);
    this.#fd = -1;
  }
}

/**
 * A claim of a pidfile refused (exit 5): a daemon holds it, or another opsd is
 * starting or stopping one there. Not a refusal by the daemon itself (its own
 * `5 MESSAGE` readiness line), which is no sign that anything runs.
 */
export class PidfileBusy extends OpsdError {}

/**
 * A claim refused because a daemon holds the pidfile at `path` locked (exit code
 * 5). Which process that is, the pid the file names or another, lock_owner.ts
 * tells: `startDaemon` says it as `daemon status` does.
 */
export class PidfileLocked extends PidfileBusy {
  constructor(readonly path: string) {
    const status = suggestCommand("opsd", "daemon", "status", "--pidfile", path);
    super(`already running: pidfile ${path} is locked; see ${status}`, ExitCode.busy);
    this.name = "PidfileLocked";
  }
}

/** The error for a claim refused because `held`. */
function _busy(path: string, held: _Held): OpsdError {
  if (held.holder === "daemon") return new PidfileLocked(path);
  return new PidfileBusy(
    `another opsd is starting or stopping the daemon of ${path} right now: try again`,
    ExitCode.busy,
  );
}

/**
 * Throws unless `path` is still the file `fd` has open: one swapped for a symlink or
 * another file since it was made is not renamed over the pidfile.
 */
function _checkStillOurs(path: string, fd: number): void {
  // The link itself, not what it points to: a link to our file is no longer our file there.
  if (!_sameFile(_pathIdentity(path, { follow: false }), _identity(fd, path))) {
    throw new OpsdError(
      `${path} was replaced or removed while opsd wrote it (by whoever may write its ` +
        "directory): check who does, then start again",
      ExitCode.failure,
    );
  }
}

/**
 * Creates `path` afresh (mode 0644 whatever the umask), locked over the whole file.
 * Called with the guard held, so a file already there was left by an opsd that died
 * mid-start: it is replaced.
 */
function _createLocked(path: string): number {
  let fd: number;
  try {
    _removeQuietly(path);
    fd = open(path, O.RDWR | O.CREAT | O.EXCL | O.CLOEXEC, 0o644);
  } catch (error) {
    throw fileError("create pidfile", path, error);
  }
  try {
    // Through the fd, not the path: whoever may write the directory could have put
    // a symlink at `path` since (root would chmod its target).
    Deno.chmodSync(`/proc/self/fd/${fd}`, 0o644);
    setLock(fd, "ofd", "write");
    return fd;
  } catch (error) {
    close(fd);
    throw error;
  }
}

/**
 * Removes the pidfile at `path` if no daemon holds it and, when `file` is given, it
 * is still that file (not one a new daemon has put there since). Returns whether
 * it removed it. Throws a UsageError, removing nothing, when the file holds
 * something other than a pid: no pidfile.
 */
export function removePidfile(path: string, file?: FileIdentity): boolean {
  const absolute = absolutePath(path);
  const guard = _guard(absolute, false);
  if (guard === "missing" || "holder" in guard) return false;
  try {
    if (file && !_sameFile(guard.file, file)) return false;
    Deno.removeSync(absolute);
    return true;
  } finally {
    close(guard.fd);
  }
}

/**
 * For a daemon started with a pidfile (`$OPSD_PIDFILE_FD`, `$OPSD_PIDFILE` in its
 * environment): gives up the lock (closes fd {@linkcode PIDFILE_FD}) and removes
 * the pidfile, unless a new daemon has put its own in place meanwhile. The last
 * step of a clean exit (opsd's background supervisor takes it); does nothing for a
 * process started without a pidfile.
 */
export function releaseOwnPidfile(): void {
  const path = Deno.env.get(PIDFILE_ENV.path);
  if (Deno.env.get(PIDFILE_ENV.fd) !== String(PIDFILE_FD) || !path) return;
  let file: FileIdentity;
  try {
    file = _identity(PIDFILE_FD, path);
  } catch {
    return; // fd 3 is no longer the pidfile: nothing of ours to release.
  }
  close(PIDFILE_FD);
  removePidfile(path, file);
}

/** `path` made absolute against opsd's working directory (a daemon runs in `/`). */
export function absolutePath(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd().replace(/\/$/, "")}/${path}`;
}

type _Guarded = { fd: number; file: FileIdentity; pid: number | null };
type _Held = { holder: "daemon" | "opsd" };

/**
 * Takes the guard of the file `path` names (creating an empty one with `create`),
 * checking afterwards that `path` still names it and retrying when it was replaced.
 */
function _guard(path: string, create: boolean): _Guarded | _Held | "missing" {
  for (let attempt = 0; attempt < _RETRIES; attempt++) {
    const fd = _openReadWrite(path, create);
    if (fd === null) return "missing";
    let keep = false;
    try {
      if (!setLock(fd, "ofd", "write", _GUARD)) {
        const daemon = getLock(fd, "ofd", "write", _DAEMON_LOCK) !== null;
        return { holder: daemon ? "daemon" : "opsd" };
      }
      const file = _identity(fd, path);
      if (!_sameFile(_pathIdentity(path), file)) continue;
      const { pid, pidfile } = _readPidText(fd);
      if (!pidfile) throw _notPidfile(path);
      keep = true;
      return { fd, file, pid };
    } finally {
      if (!keep) close(fd);
    }
  }
  throw new PidfileBusy(
    `${path} kept being replaced while opsd tried to lock it: is something else rewriting it?`,
    ExitCode.busy,
  );
}

/**
 * Opens `path` read-write, creating it empty with `create`; null when it does not
 * exist. A starter never follows a symlink there: opsd runs as root, and whoever may
 * write the pidfile's directory (the daemon's user, often) could point FILE at any
 * file for root to create (an empty `/etc/nologin`) and lock.
 */
function _openReadWrite(path: string, create: boolean): number | null {
  try {
    _refuseOtherThanFile(path);
    return open(path, O.RDWR | O.CLOEXEC | _NO_WAIT | (create ? O.CREAT | O.NOFOLLOW : 0), 0o644);
  } catch (error) {
    if (!create && isErrno(error, "ENOENT")) return null;
    if (error instanceof OpsdError) throw error;
    if (create && isErrno(error, "ELOOP")) {
      throw new UsageError(
        `cannot create pidfile ${path}: it is a symbolic link (opsd does not create a ` +
          `pidfile through one): name the file itself, or remove the link`,
        { cause: error },
      );
    }
    throw fileError(create ? "create pidfile" : "open pidfile", path, error);
  }
}

// More than a pidfile ever holds: a longer file is some other file.
const _PIDFILE_BYTES = 64;

/**
 * The pid in the file open on `fd` (null when there is none, or 0), and whether
 * the file could be a pidfile at all: empty (left by an opsd killed mid-start) or
 * one number between blanks. Any other text is some other file, named by mistake
 * (a config, `/etc/shadow`), which no start may replace and no stop remove.
 */
function _readPidText(fd: number): { pid: number | null; pidfile: boolean } {
  const buffer = new Uint8Array(_PIDFILE_BYTES);
  const length = pread(fd, buffer, 0);
  const text = new TextDecoder().decode(buffer.subarray(0, length));
  const match = /^\s*(\d{0,10})\s*$/.exec(text);
  const pid = match ? Number(match[1]) : 0;
  return { pid: pid > 0 ? pid : null, pidfile: match !== null && length < _PIDFILE_BYTES };
}

/** The refusal of a file that holds something other than a pid (see `_readPidText`). */
function _notPidfile(path: string): UsageError {
  return new UsageError(
    `${path} holds something other than a pid: no pidfile, so opsd neither replaces nor ` +
      `removes it: name the daemon's pidfile, or remove ${path} yourself if it is a leftover`,
  );
}

// Opening a FIFO read-only would wait for a writer, and a terminal would become
// opsd's controlling terminal: neither is a pidfile (refused before the open; these
// flags cover one put there between the look and the open).
const _NO_WAIT = O.NONBLOCK | O.NOCTTY;

/**
 * Refuses a `path` that names something other than a regular file before opsd opens
 * it: opening a device file can act on the device, and a directory or a socket
 * could only fail later with a bare errno. A missing file passes (the open says so).
 */
function _refuseOtherThanFile(path: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch {
    return;
  }
  if (!info.isFile) throw _notRegular(path, info);
}

/** The identity of the file open on `fd`; throws a UsageError unless it is a regular file. */
function _identity(fd: number, path: string): FileIdentity {
  const info = Deno.statSync(`/proc/self/fd/${fd}`);
  if (!info.isFile) throw _notRegular(path, info);
  return { dev: info.dev, ino: info.ino! };
}

function _notRegular(path: string, info: Deno.FileInfo): UsageError {
  const kind = info.isDirectory
    ? "a directory"
    : info.isFifo
    ? "a FIFO"
    : info.isSocket
    ? "a socket"
    : info.isCharDevice || info.isBlockDevice
    ? "a device file"
    : "no regular file";
  return new UsageError(`${path} is ${kind}, not a pidfile: name the daemon's pidfile`);
}

/**
 * The identity of the file `path` names now (with `follow: false`, of a symlink
 * there itself), or null when there is none.
 */
function _pathIdentity(path: string, { follow = true } = {}): FileIdentity | null {
  try {
    const info = follow ? Deno.statSync(path) : Deno.lstatSync(path);
    return { dev: info.dev, ino: info.ino! };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function _sameFile(a: FileIdentity | null, b: FileIdentity): boolean {
  return a !== null && a.dev === b.dev && a.ino === b.ino;
}

function _removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

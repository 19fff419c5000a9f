/**
 * `/proc/locks`: who holds a lock on a file. Used to name the other supervisor
 * (daemontools' `supervise`, runit's `runsv`) that holds a service's lock with
 * `flock(2)`, which opsd's own OFD lock does not see.
 *
 * @module
 */

/** One held lock, as a line of `/proc/locks` (or an fdinfo `lock:` line) shows it. */
export interface LockEntry {
  /** `POSIX` (fcntl, per process), `FLOCK` or `OFDLCK` (per open file), `LEASE`… */
  kind: string;
  /** `READ` or `WRITE`. */
  access: string;
  /** The holder's pid; -1 for an OFD lock, which belongs to no process. */
  pid: number;
  /** The locked file: device major and minor numbers, and inode. */
  major: number;
  minor: number;
  inode: number;
  /** First byte locked. */
  start: number;
  /** Last byte locked; null for "to the end of the file" (`EOF`). */
  end: number | null;
}

/**
 * Parses one lock line, `1: FLOCK ADVISORY WRITE 812 fe:00:2147585 0 EOF`; null
 * for a process waiting for a lock (`1: -> FLOCK …`) or a line that is no lock.
 */
export function parseLockLine(line: string): LockEntry | null {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 8 || fields[1] === "->") return null;
  const [major, minor, inode] = fields[5].split(":");
  return {
    kind: fields[1],
    access: fields[3],
    pid: Number(fields[4]),
    major: parseInt(major, 16),
    minor: parseInt(minor, 16),
    inode: Number(inode),
    start: Number(fields[6]),
    end: fields[7] === "EOF" ? null : Number(fields[7]),
  };
}

/**
 * Whether `lock` is on the file with device `dev` (as `Deno.FileInfo.dev` gives it)
 * and inode `ino`.
 */
export function isLockOn(lock: LockEntry, { dev, ino }: { dev: number; ino: number }): boolean {
  // glibc's dev_t encoding: major in bits 8-19 and 32-43, minor in bits 0-7 and 20-31.
  const device = BigInt(dev);
  const major = Number(((device >> 8n) & 0xfffn) | ((device >> 32n) & ~0xfffn));
  const minor = Number((device & 0xffn) | ((device >> 12n) & ~0xffn));
  return lock.inode === ino && lock.major === major && lock.minor === minor;
}

/**
 * The pid holding a `flock(2)` lock on `path`, or null when none does (or it
 * cannot be told: the file or `/proc/locks` cannot be read).
 */
export function flockHolder(path: string): number | null {
  try {
    const { dev, ino } = Deno.statSync(path);
    const onPath = (lock: LockEntry | null) =>
      lock?.kind === "FLOCK" && isLockOn(lock, { dev, ino: ino! });
    return Deno.readTextFileSync("/proc/locks").split("\n").map(parseLockLine).find(onPath)?.pid ??
      null;
  } catch {
    return null;
  }
}

/**
 * A log file that rotates by size and keeps a bounded number of old files, as
 * multilog and svlogd do: `FILE` is current, `FILE.1` the newest old one, up to
 * `FILE.N`. Rotation happens between lines, never inside one, and only for a
 * regular file (`/dev/stdout` or a FIFO is simply written to).
 *
 * Where svlogd (as most loggers) writes on into a `current` removed by hand, its
 * lines lost until its next rotation, and then fails to rename it for ever (see
 * gitlab.com/gitlab-com/gl-infra/observability/team/-/issues/3048), the open file is looked at
 * before each write: one that was removed is closed and `FILE` opened anew (with
 * its directory, if that was removed too), and one truncated by hand is rotated by
 * its new size.
 *
 * @module
 */

import { errorReason } from "../../file_error.ts";
import { basename, dirname } from "../../path.ts";
import type { ByteSink } from "./writer.ts";

/** Where and how big a {@linkcode RotatingLogFile} may grow. */
export interface LogFileOptions {
  /** Absolute path of the current file. */
  path: string;
  /**
   * How its directory is reached, when not by its path: the state directory a
   * supervisor holds open (`/proc/self/fd/N`), so that the file follows that
   * directory when it is moved, and is never opened in a new directory made at its
   * path (a deploy) by a supervisor that is about to exit.
   */
  dir?: string;
  /** Rotate before the file would grow past this many bytes. */
  maxSize: number;
  /** How many rotated files to keep (0: the current file is simply started again). */
  keep: number;
}

/**
 * A {@linkcode ByteSink} over a rotating log file. Each `write` is whole lines, and
 * writes all of them, or those before a failure (and says how many), or throws
 * when none got in; the file is opened, and its directory made, on first use, and
 * opened again after an error or once it was removed.
 */
export class RotatingLogFile implements ByteSink {
  #options: LogFileOptions;
  /** The current file's path as it is reached (through `dir` when given). */
  #path: string;
  #file: Deno.FsFile | null = null;
  #size = 0;
  /** Only a regular file is rotated: renaming `/dev/null` or a FIFO would break it for everyone. */
  #regular = true;

  /**
   * The directories `#open` makes when missing, outermost
   * first: the file's own, and those above it that did not exist when this was made
   * (a full disk kept `checkLogFile` from making them).
   */
  #dirs: string[];

  constructor(options: LogFileOptions) {
    this.#options = options;
    this.#path = `${options.dir ?? dirname(options.path)}/${basename(options.path)}`;
    this.#dirs = _dirsToMake(dirname(this.#path));
  }

  /**
   * Writes all of `lines`, rotating first (at a line boundary) when the file would
   * grow too big. When writing or rotating fails after some of the lines got in,
   * returns how many bytes did (the rest is for the next call, which fails alike or
   * not); when none did, throws.
   */
  async write(lines: Uint8Array): Promise<number> {
    let rest = lines;
    try {
      if (this.#file) this.#checkRemoved(this.#file);
      while (rest.length > 0) {
        const file = this.#file ?? await this.#open();
        const part = this.#fitting(rest);
        if (part.length === 0) {
          await this.#rotate();
          continue;
        }
        await this.#writeWhole(file, part);
        this.#size += part.length;
        rest = rest.subarray(part.length);
        if (rest.length > 0) await this.#rotate();
      }
      return lines.length;
    } catch (error) {
      this.close();
      if (rest.length < lines.length) return lines.length - rest.length;
      throw error;
    }
  }

  /**
   * The whole lines at the start of `lines` that fit in the current file: all of
   * them, or none (rotate first), or one line longer than the size limit when the
   * file is empty (it cannot be helped).
   */
  #fitting(lines: Uint8Array): Uint8Array {
    const room = this.#options.maxSize - this.#size;
    if (lines.length <= room || !this.#regular) return lines;
    const cut = lines.subarray(0, Math.max(room, 0)).lastIndexOf(10);
    if (cut >= 0) return lines.subarray(0, cut + 1);
    if (this.#size > 0) return lines.subarray(0, 0);
    const newline = lines.indexOf(10);
    return newline < 0 ? lines : lines.subarray(0, newline + 1);
  }

  /**
   * Writes all of `part`, or — when writing fails midway (a full disk) — none of
   * it: what got in is cut off again, so no torn line stays in the file.
   */
  async #writeWhole(file: Deno.FsFile, part: Uint8Array): Promise<void> {
    try {
      for (let offset = 0; offset < part.length;) {
        offset += await file.write(part.subarray(offset));
      }
    } catch (error) {
      if (this.#regular) await file.truncate(this.#size).catch(() => {});
      throw error;
    }
  }

  /** Closes the current file (it is opened again by the next write). */
  close(): void {
    try {
      this.#file?.close();
    } catch {
      // Already closed after a failed write.
    }
    this.#file = null;
  }

  /**
   * Closes the open regular file when it was removed (by hand, or with its
   * directory): the next write opens `FILE` anew. Else takes its size again, which a
   * truncation by hand made smaller. A file moved (with its directory, by a deploy)
   * is written on, as the state directory is followed.
   */
  #checkRemoved(file: Deno.FsFile): void {
    if (!this.#regular) return;
    // fstat(2) on this thread: a few µs, where an async stat's round trip cost more.
    const info = file.statSync();
    if (info.nlink === 0) this.close();
    else this.#size = info.size;
  }

  async #open(): Promise<Deno.FsFile> {
    // Its directory is made again if it was removed, but never one above it that existed at
    // the start: once its service directory is removed (a deploy under way), nothing is made
    // where the new one is about to be. Each is made alone, so a gone parent stops it.
    for (const dir of this.#dirs) await Deno.mkdir(dir, { mode: _DIR_MODE }).catch(_ignoreExisting);
    const file = await Deno.open(this.#path, _OPEN);
    const info = await file.stat();
    this.#size = info.size;
    this.#regular = info.isFile;
    return this.#file = file;
  }

  /** Rotates; a failure (a directory that may not be written) says it was the rotation. */
  async #rotate(): Promise<void> {
    try {
      await this.#shift();
    } catch (error) {
      throw new Error(`cannot rotate it: ${errorReason(error)}`, { cause: error });
    }
  }

  /**
   * Renames `FILE` to `FILE.1` and each older generation one up (for log-keep 0,
   * removes `FILE`), and removes the generations past log-keep.
   */
  async #shift(): Promise<void> {
    const { keep } = this.#options;
    const path = this.#path;
    this.close();
    if (keep === 0) {
      await Deno.remove(path).catch(_ignoreMissing);
    } else {
      // Shift only the generations there are (FILE.1 … up to the first gap): a
      // large log-keep costs nothing until that many files exist.
      let top = 1;
      while (top < keep && await _exists(`${path}.${top}`)) top++;
      for (let n = top - 1; n >= 1; n--) {
        await Deno.rename(`${path}.${n}`, `${path}.${n + 1}`).catch(_ignoreMissing);
      }
      await Deno.rename(path, `${path}.1`).catch(_ignoreMissing);
    }
    // Generations past log-keep (it was lowered since they were made) go too.
    for (let n = keep + 1; await _exists(`${path}.${n}`); n++) await Deno.remove(`${path}.${n}`);
    this.#size = 0;
  }
}

/**
 * Makes sure the log file `path` can be written, as {@linkcode RotatingLogFile}
 * would open it (its directory made, the file created if need be), so that a
 * log file that cannot be is refused before the service starts rather than
 * discovered as dropped output. Throws the error opening it gave.
 */
export function checkLogFile(path: string): void {
  Deno.mkdirSync(dirname(path), { recursive: true, mode: _DIR_MODE });
  Deno.openSync(path, _OPEN).close();
}

/**
 * The mode of a log directory opsd makes: only its owner may add or rename files in
 * it, even under umask 000 (where a world-writable one would let any user put a
 * symlink where the supervisor rotates or opens its log).
 */
const _DIR_MODE = 0o755;

/** How a log file is opened: appended to, made if missing, readable by its group. */
const _OPEN: Deno.OpenOptions = { append: true, create: true, mode: 0o640 };

/**
 * `dir`, and those of its ancestors that do not exist now, outermost first (symlinks
 * followed, as mkdir follows them).
 */
function _dirsToMake(dir: string): string[] {
  const dirs = [dir];
  for (let parent = dirname(dir); parent !== dirs[0]; parent = dirname(parent)) {
    try {
      Deno.statSync(parent);
      break; // it exists: neither it nor any above it is made
    } catch {
      dirs.unshift(parent);
    }
  }
  return dirs;
}

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    _ignoreMissing(error);
    return false;
  }
}

function _ignoreExisting(error: unknown): void {
  if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
}

function _ignoreMissing(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}

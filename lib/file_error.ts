/**
 * One clear line for a file opsd cannot open, create or remove (a daemon's
 * pidfile, log or environment file; a service's log file), saying what to do.
 *
 * @module
 */

import { ExitCode, OpsdError, UsageError } from "./errors.ts";
import { errorCode } from "./sys/errno.ts";
import { dirname } from "./path.ts";

/**
 * The error to throw when `action` (such as `create pidfile`) on `path` failed with
 * `error`: a UsageError (exit 2) for a missing file or directory or a directory in
 * the way, or a socket file, an OpsdError with exit code 4 for permission denied or a
 * read-only file system, and with exit code 1 for a FIFO opened without waiting that
 * no process reads; other errors are returned as they are.
 *
 * @example
 * ```ts
 * throw fileError("open --log", "/var/log/app.log", error);
 * // cannot open --log /var/log/app.log: permission denied: …
 * ```
 */
export function fileError(action: string, path: string, error: unknown): Error {
  const dir = dirname(path);
  const options = { cause: error };
  const prefix = `cannot ${action} ${path}`;
  switch (errorCode(error)) {
    case "ENOENT":
      return _isDirectory(dir)
        ? new UsageError(`${prefix}: no such file`, options)
        : new UsageError(
          `${prefix}: directory ${dir} does not exist: create it or choose another path`,
          options,
        );
    case "ENOTDIR":
      return new UsageError(
        `${prefix}: ${_fileInTheWay(dir)} is not a directory: choose another path`,
        options,
      );
    case "EISDIR":
      return new UsageError(`${prefix}: it is a directory`, options);
    case "EACCES":
    case "EPERM":
      return new OpsdError(
        `${prefix}: permission denied: run opsd as a user who may, or choose another path`,
        ExitCode.permission,
        options,
      );
    case "EROFS":
      return new OpsdError(
        `${prefix}: read-only file system: choose a writable directory such as /run`,
        ExitCode.permission,
        options,
      );
    case "ENXIO":
      return _noDevice(prefix, path, options) ?? error as Error;
    default:
      return error instanceof Error ? error : new Error(String(error));
  }
}

/** The ancestor of `dir` (or `dir`) that exists but is not a directory: what made ENOTDIR. */
function _fileInTheWay(dir: string): string {
  for (let path = dir; path !== "/" && path !== "."; path = dirname(path)) {
    try {
      if (!Deno.statSync(path).isDirectory) return path;
    } catch {
      // missing, or itself below the file in the way: look further up
    }
  }
  return dir;
}

/**
 * What ENXIO meant, opening `path` without waiting: a socket file (no file to open)
 * or a FIFO that no process reads; null for anything else (a device with no driver).
 */
function _noDevice(prefix: string, path: string, options: ErrorOptions): Error | null {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch {
    return null;
  }
  if (info.isSocket) {
    return new UsageError(`${prefix}: it is a socket, not a file: choose another path`, options);
  }
  if (info.isFifo) {
    return new OpsdError(
      `${prefix}: it is a FIFO that no process reads: start its reader first`,
      ExitCode.failure,
      options,
    );
  }
  return null;
}

function _isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Why a file operation failed, without the paths Deno names the files by
 * (`: open '/proc/self/fd/7/current'`, `: rename 'A' -> 'B'`), in the words opsd's
 * own errors use (`ENOSPC (no space left on device)`, as `bind: EADDRINUSE (address
 * already in use)`): for a message that names the file itself.
 */
export function errorReason(error: unknown): string {
  const reason = (error as Error).message.replace(/: \w+ '[^']*'( -> '[^']*')?$/, "");
  const text = / \(os error \d+\)$/.test(reason) ? reason.replace(/ \(os error \d+\)$/, "") : null;
  const code = errorCode(error);
  if (text === null || code === null) return reason;
  return `${code} (${text.charAt(0).toLowerCase()}${text.slice(1)})`;
}

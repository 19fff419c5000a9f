/**
 * Finding the program to run as `execvp(3)` finds it, for the user it will run
 * as, and turning exec failures into the shell's exit codes: 127 not found, 126
 * found but not executable.
 *
 * @module
 */

import { ExitCode, OpsdError } from "../errors.ts";
import { userName } from "../procfs/users.ts";
import { SysError } from "../sys/errno.ts";
import { ACCESS, checkAccess, isErrno } from "../sys/libc.ts";
import { resolvePath } from "../path.ts";
import { shellQuote } from "../text/command.ts";

const _DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Why this process's user cannot execute a path. */
type _Problem =
  | "not found"
  | "unsearchable"
  | "is a directory"
  | "not a file"
  | "not executable"
  | "denied";

/**
 * What `stat` says of a program file, before any access check: an executable
 * file, a file with no execute bit, a directory, something else that is not a
 * regular file (a device, a FIFO), or nothing there.
 */
export type ProgramFileState =
  | "executable"
  | "not executable"
  | "directory"
  | "not a file"
  | "absent";

/**
 * The {@linkcode ProgramFileState} of `path` (links followed). A missing path,
 * or one through a non-directory, is "absent"; any other stat failure (a
 * directory on the way this user may not search, a loop of links) is thrown.
 * The one place that decides whether a run, finish or script file can be run.
 */
export function programFileState(path: string): ProgramFileState {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return "absent";
    }
    throw error;
  }
  if (info.isDirectory) return "directory";
  if (!info.isFile) return "not a file";
  return ((info.mode ?? 0) & 0o111) === 0 ? "not executable" : "executable";
}

/**
 * The path of `name` as `execvp` finds it for this process's effective user (a
 * process that switches users resolves after the switch): resolved against `cwd`
 * when it holds a slash, else searched in `searchPath` (a PATH value). As execvp
 * does, the search passes over a directory without `name`, a missing one and one
 * this user may not search. Throws an OpsdError with exit code 127 when nothing is
 * found, and 126 when only candidates this user may not execute are, or when a
 * directory it may not search hid where `name` might be (execvp's EACCES).
 */
export function resolveProgram(
  name: string,
  { cwd = Deno.cwd(), searchPath = _DEFAULT_PATH }: { cwd?: string; searchPath?: string } = {},
): string {
  if (name === "") throw new OpsdError("empty program name", ExitCode.usage);
  if (name.includes("/")) {
    const path = name.startsWith("/") ? name : `${cwd.replace(/\/$/, "")}/${name}`;
    const problem = _problem(path);
    if (problem) throw _notRunnable(name, problem);
    return path;
  }
  let denied: string | undefined, hidden: string | undefined;
  for (const dir of searchPath.split(":")) {
    // A relative entry (".", "bin") is relative to `cwd`: the program may run elsewhere.
    const path = `${resolvePath(cwd, dir || ".")}/${name}`.replace(/^\/\//, "/");
    const problem = _problem(path);
    if (!problem) return path;
    if (problem === "unsearchable") hidden ??= path;
    else if (problem !== "not found") denied ??= path;
  }
  if (denied) throw _notRunnable(denied, _problem(denied) ?? "denied");
  if (hidden) {
    throw new OpsdError(
      `${name}: permission denied: user ${_user()} may not search ${_unsearchable(hidden)} ` +
        `(on the way to ${hidden}) and finds ${name} nowhere else in PATH: ` +
        "give the program's full path, or a PATH that user may search",
      ExitCode.cannotExecute,
    );
  }
  throw new OpsdError(
    `${name}: not found in PATH (${searchPath}): check the name, or give the program's full path`,
    ExitCode.notFound,
  );
}

/** Why this process's user cannot execute `path`, or null when it can. */
function _problem(path: string): _Problem | null {
  let state: ProgramFileState;
  try {
    state = programFileState(path);
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied) return "unsearchable";
    throw error;
  }
  switch (state) {
    case "absent":
      return "not found";
    case "directory":
      return "is a directory";
    case "not a file":
    case "not executable":
      return state;
  }
  try {
    checkAccess(path, ACCESS.X);
    return null;
  } catch (error) {
    if (isErrno(error, "EACCES")) return "denied";
    throw error;
  }
}

function _notRunnable(path: string, problem: _Problem): OpsdError {
  switch (problem) {
    case "not found":
      return new OpsdError(`${path}: not found: check the path`, ExitCode.notFound);
    case "unsearchable":
      return new OpsdError(
        `${path}: permission denied: user ${_user()} may not search ${_unsearchable(path)}`,
        ExitCode.cannotExecute,
      );
    case "is a directory":
      return new OpsdError(
        `${path}: is a directory: name the program file in it`,
        ExitCode.cannotExecute,
      );
    case "not a file":
      return new OpsdError(
        `${path}: not a file (a device, a FIFO, a socket): name an executable file`,
        ExitCode.cannotExecute,
      );
    case "not executable":
      return new OpsdError(
        `${path}: not executable: make it executable (chmod +x ${shellQuote(path)})`,
        ExitCode.cannotExecute,
      );
    case "denied":
      return new OpsdError(
        `${path}: permission denied: user ${_user()} may not execute it: check its owner and ` +
          "mode (ls -l), and that its file system is not mounted noexec",
        ExitCode.cannotExecute,
      );
  }
}

/** The first directory on the way to `path` that this process's user may not search. */
function _unsearchable(path: string): string {
  const names = path.split("/").slice(0, -1);
  for (let count = 1; count <= names.length; count++) {
    const dir = names.slice(0, count).join("/") || "/";
    try {
      checkAccess(dir, ACCESS.X);
    } catch (error) {
      if (isErrno(error, "EACCES")) return dir;
    }
  }
  return names.join("/") || "/";
}

/** The name of the user this process runs as, for messages. */
function _user(): string {
  return userName(Deno.uid()!); // null only on Windows
}

/**
 * The OpsdError for an exec of `path` that failed with `error`: 127 for ENOENT,
 * else 126. ENOENT for a file that exists means its interpreter is missing: the
 * message names the one its `#!` line asks for.
 */
export function execFailure(path: string, error: SysError): OpsdError {
  if (error.code !== "ENOENT") {
    return new OpsdError(error.message, ExitCode.cannotExecute, { cause: error });
  }
  const message = _missingInterpreter(path) ?? error.message;
  return new OpsdError(message, ExitCode.notFound, { cause: error });
}

/**
 * Why exec of the existing file `path` found nothing to run: the interpreter its
 * `#!` line names, or the loader a binary needs; null when it cannot be read.
 */
function _missingInterpreter(path: string): string | null {
  const head = new Uint8Array(256);
  let length: number | null;
  try {
    using file = Deno.openSync(path);
    length = file.readSync(head);
  } catch {
    return null; // gone, or not readable by this user: the errno is all there is to say
  }
  const line = new TextDecoder().decode(head.subarray(0, length ?? 0)).split("\n")[0];
  if (!line.startsWith("#!")) {
    return `exec ${path}: the file exists, but the loader it needs (for a binary, its dynamic ` +
      `loader: see 'file ${path}') was not found`;
  }
  // As the kernel reads it: after `#!` and blanks, up to the next blank or the newline.
  const interpreter = line.slice(2).replace(/^[ \t]+/, "").split(/[ \t]/)[0];
  if (interpreter.endsWith("\r")) {
    return `exec ${path}: its interpreter ${JSON.stringify(interpreter)} was not found: its ` +
      `lines end in a carriage return (Windows line endings): remove them ` +
      `(sed -i 's/\\r$//' ${shellQuote(path)})`;
  }
  return `exec ${path}: its interpreter ${interpreter} was not found: ` +
    "fix its #! line (e.g. '#!/bin/sh')";
}

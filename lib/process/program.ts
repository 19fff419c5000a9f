/**
 * Finding the program to run and turning exec failures into the shell's exit
 * codes: 127 not found, 126 found but not executable.
 *
 * @module
 */

import { ExitCode, OpsdError } from "../errors.ts";
import { SysError } from "../sys/errno.ts";

const _DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The absolute path of `name`: resolved against `cwd` when it holds a slash,
 * else searched in `searchPath` (a PATH value) as `execvp` does. Throws an
 * OpsdError with exit code 127 when nothing is found and 126 when only
 * non-executable candidates are.
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
  let found: string | undefined;
  for (const dir of searchPath.split(":")) {
    const path = `${dir || "."}/${name}`;
    const problem = _problem(path);
    if (!problem) return path;
    if (problem !== "not found") found ??= path;
  }
  if (found) throw _notRunnable(found, _problem(found)!);
  throw new OpsdError(`${name}: not found in PATH (${searchPath})`, ExitCode.notFound);
}

/** Why `path` cannot be executed, or null when it looks runnable. */
function _problem(path: string): "not found" | "is a directory" | "not executable" | null {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return "not found";
    }
    throw error;
  }
  if (info.isDirectory) return "is a directory";
  return ((info.mode ?? 0) & 0o111) === 0 ? "not executable" : null;
}

function _notRunnable(path: string, problem: string): OpsdError {
  if (problem === "not found") return new OpsdError(`${path}: not found`, ExitCode.notFound);
  const hint = problem === "not executable" ? `: make it executable (chmod +x ${path})` : "";
  return new OpsdError(`${path}: ${problem}${hint}`, ExitCode.cannotExecute);
}

/** The OpsdError for an exec that failed with `error`: 127 for ENOENT, else 126. */
export function execFailure(error: SysError): OpsdError {
  const code = error.code === "ENOENT" ? ExitCode.notFound : ExitCode.cannotExecute;
  return new OpsdError(error.message, code, { cause: error });
}

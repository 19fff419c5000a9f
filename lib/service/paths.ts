/**
 * The one resolver from what an operator types (`/srv/web`, `./run.sh`) to a
 * service's files. Every command that names a service goes through it, so a
 * service directory and a script resolve the same way everywhere.
 *
 * Two forms:
 * - a directory with an executable `run` (the daemontools/runit/s6 layout):
 *   optional `finish`, `down` and `log/`; settings in `opsd.conf`; state in `supervise/`;
 * - an executable script such as `/srv/app/web.sh`: settings in `web.sh.opsd.conf`
 *   and state in `.web.sh.opsd/`, both beside it.
 *
 * No spelling of a service starts a second supervisor: `DIR/run` is the
 * directory service DIR; a symlink to a script keeps its own settings and state
 * beside the link (the operator's), and the supervisor also locks the real
 * file, so the script never runs twice (lib/supervise/state.ts). A symlinked
 * directory is its real directory, resolved once: a supervisor keeps running and
 * recording the directory it started with when the link is pointed elsewhere
 * (a `current -> releases/v2` deploy), as daemontools' supervise does by
 * changing into it, and a command given the link acts on what it points to now.
 *
 * @module
 */

import { ExitCode, OpsdError, UsageError } from "../errors.ts";
import { programFileState } from "../process/program.ts";
import { basename, dirname, resolvePath } from "../path.ts";
import { shellQuote } from "../text/command.ts";

/** Where a service's files are. Paths are absolute; files may not exist yet. */
export interface ServicePaths {
  /** The service's absolute path: the directory, or the script. Names it in messages. */
  path: string;
  /** `directory` (daemontools layout) or `script` (a single executable). */
  form: "directory" | "script";
  /** The directory the service runs in: the service directory, or the script's. */
  dir: string;
  /** The program the supervisor starts. */
  run: string;
  /** The optional `finish` program (directory form only). */
  finish: string | null;
  /** The file whose presence means "normally down" (directory form only). */
  downFile: string | null;
  /** The settings file (`opsd.conf`, or `NAME.opsd.conf` beside a script). */
  settingsFile: string;
  /** The supervisor's state directory: lock, status.json, control socket. */
  stateDir: string;
  /** The `log/` service reading this one's stdout, when the directory has one. */
  log: ServicePaths | null;
}

/**
 * Resolves `name` (a service directory or an executable script, relative to
 * `cwd`) to its {@linkcode ServicePaths}. Throws a UsageError (exit 2) when
 * nothing is there; whether `run` is runnable is checked by the supervisor.
 *
 * @example
 * ```ts
 * const web = resolveService("/srv/web"); // web.stateDir === "/srv/web/supervise"
 * ```
 */
export function resolveService(name: string, cwd = Deno.cwd()): ServicePaths {
  if (name === "") throw new UsageError("empty service name: name a service directory or script");
  const path = resolvePath(cwd, name);
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      throw new UsageError(
        `no such service: ${path}: name a directory with an executable run file, or an executable script`,
      );
    }
    if (error instanceof Deno.errors.FilesystemLoop) {
      throw new UsageError(`no such service: ${path} is a loop of symbolic links: fix the link`);
    }
    // A directory on the way this user may not search.
    if (error instanceof Deno.errors.PermissionDenied) throw _notLookable(dirname(path));
    throw error;
  }
  if (info.isDirectory) return _directoryService(Deno.realPathSync(path));
  if (basename(path) === "run") return _directoryService(Deno.realPathSync(dirname(path)));
  return _scriptService(path);
}

/**
 * {@linkcode resolveService} for commands that act on a service that exists
 * (status, control words, tail, wait): a directory with neither a run file nor a
 * state directory, or a file that is not executable and has no state beside it,
 * is not a service, and is a UsageError (exit 2) too.
 */
export function resolveExistingService(name: string, cwd = Deno.cwd()): ServicePaths {
  const paths = resolveService(name, cwd);
  if (_exists(paths.stateDir, paths.dir)) return paths;
  if (paths.form === "directory" && !_exists(paths.run, paths.path)) {
    throw new UsageError(`not a service: ${paths.path} has no run file and was never supervised`);
  }
  if (paths.form === "script" && programFileState(paths.run) === "not executable") {
    throw new UsageError(
      `not a service: ${paths.path} is not an executable script and was never supervised`,
    );
  }
  return paths;
}

/**
 * Why the run file (or script) of `paths` cannot be run, as the error supervise
 * refuses it with (127 missing, 126 not executable or not a file, saying what to
 * do), so that `opsd status` can say it before anyone tries; null when it can be.
 */
export function runFileProblem(paths: ServicePaths): OpsdError | null {
  const state = programFileState(paths.run);
  if (state === "executable") return null;
  if (state === "absent") {
    return new OpsdError(
      `${paths.run}: not found: a service directory needs an executable run file ` +
        `(e.g. '#!/bin/sh' then 'exec your-server')`,
      ExitCode.notFound,
    );
  }
  return new OpsdError(
    state === "not executable"
      ? `${paths.run}: not executable: make it executable (chmod +x ${shellQuote(paths.run)})`
      : `${paths.run}: not a file: run must be an executable file`,
    ExitCode.cannotExecute,
  );
}

/**
 * Whether `path` (in service directory `service`) exists; a service directory
 * this user may not look into is an error (exit 4).
 */
function _exists(path: string, service: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied) throw _notLookable(service);
    return false;
  }
}

/** The error (exit 4) for a directory this user may not look into. */
function _notLookable(dir: string): OpsdError {
  return new OpsdError(
    `permission denied: ${dir} cannot be looked into by this user: run this as its owner or as root`,
    ExitCode.permission,
  );
}

function _directoryService(path: string, withLog = true): ServicePaths {
  const log = `${path}/log`;
  // A log service is a log/ with a run file: a log/ that only holds log files
  // (`log-file = log/current`) is not one.
  const hasLog = withLog && _exists(`${log}/run`, path);
  return {
    path,
    form: "directory",
    dir: path,
    run: `${path}/run`,
    finish: `${path}/finish`,
    downFile: `${path}/down`,
    settingsFile: `${path}/opsd.conf`,
    stateDir: `${path}/supervise`,
    log: hasLog ? _directoryService(log, false) : null,
  };
}

function _scriptService(path: string): ServicePaths {
  const dir = dirname(path), name = basename(path);
  return {
    path,
    form: "script",
    dir,
    run: path,
    finish: null,
    downFile: null,
    settingsFile: `${dir}/${name}.opsd.conf`,
    stateDir: `${dir}/.${name}.opsd`,
    log: null,
  };
}

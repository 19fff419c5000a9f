/**
 * `opsd supervise --daemon SERVICE`: the supervisor put in the background by the
 * same machinery as `opsd daemon` (a session of its own, no terminal, stdin from
 * /dev/null, working directory /, umask 022, optionally a locked pidfile), started
 * as `opsd supervise --detached SERVICE` and waited for through the readiness
 * protocol: this returns only once the supervisor runs and has started the
 * service and its log service (or found them wanted down), and otherwise throws
 * the supervisor's own refusal with its exit code, leaving nothing running.
 *
 * @module
 */

import {
  type BusyHolder,
  startDaemon,
  startUnlessRunning,
  stopStartedDaemon,
} from "../daemon/start.ts";
import { opsdArgv } from "../self.ts";
import type { ServicePaths } from "../service/paths.ts";
import {
  loadSettings,
  normalizeSettings,
  type ServiceSettings,
  settingsFromFlags,
} from "../service/settings.ts";
import { ExitCode, exitCodeOf, OpsdError } from "../errors.ts";
import { mayHaveLeftovers } from "./leftovers.ts";
import {
  flockHolderOf,
  lockPath,
  readStatus,
  readStatusOrNull,
  runningSupervisor,
} from "./state.ts";
import { describeExiting, type ServiceStatus } from "./status.ts";

/** What {@linkcode startBackgroundSupervisor} starts. */
export interface BackgroundRequest {
  /** The service to supervise. */
  paths: ServicePaths;
  /** Settings given as flags, by setting name (`{"stop-timeout": "30s"}`), to pass on. */
  flags: Record<string, string | undefined>;
  /** A pidfile the supervisor holds locked for its whole life (`opsd daemon status|stop`). */
  pidfile?: string;
  /** How long to wait for the supervisor to report (ms); 0: with no time limit. */
  timeout: number;
}

/** A supervisor running in the background. */
export interface BackgroundSupervisor {
  /** The supervisor's pid (its own session and process group). */
  pid: number;
  /** Its pidfile's absolute path, or null. */
  pidfile: string | null;
  /** The status records of the service and its log service as the supervisor started them. */
  services: ServiceStatus[];
  /** How long the supervisor gets after TERM to take its services down before KILL (ms). */
  stopTimeout: number;
}

/** What the supervisor gets after TERM beyond its services' own stop and finish timeouts (ms). */
const _STOP_MARGIN = 5_000;

/**
 * Starts a supervisor for `request.paths` in the background and resolves once it
 * has started the services (or found them wanted down). Throws an OpsdError with
 * the supervisor's code and message when it cannot supervise (2 bad settings, 4
 * permission, 5 already supervised, 126/127 run cannot be executed), 6 when it
 * does not report within `timeout`, 1 when it died first; nothing is left running
 * and no pidfile remains.
 *
 * @example
 * ```ts
 * const { pid } = await startBackgroundSupervisor({ paths, flags: {}, timeout: 30_000 });
 * ```
 */
export async function startBackgroundSupervisor(
  request: BackgroundRequest,
): Promise<BackgroundSupervisor> {
  const { paths } = request;
  const args = Object.entries(request.flags).flatMap(([key, value]) =>
    value === undefined ? [] : [`--${key}`, value]
  );
  const settings = _settingsOf(paths, request.flags);
  const stopTimeout = _timeToStop(paths, settings);
  // What a killed supervisor left running is stopped before the first start: not in the time given.
  const stoppingFirst = request.timeout > 0 && _mayHaveLeftBehind(paths) ? stopTimeout : 0;
  let daemon;
  try {
    daemon = await startDaemon({
      argv: opsdArgv(["supervise", "--detached", ...args, paths.path]),
      pidfile: request.pidfile,
      readyTimeout: request.timeout + stoppingFirst,
      readyTimeoutOption: "--start-timeout",
      stopTimeout,
    });
  } catch (error) {
    const fd = settings.notificationFd;
    if (exitCodeOf(error) !== ExitCode.timeout || fd === null) throw error;
    throw new OpsdError(
      `${(error as Error).message} (${paths.path} has notification-fd ${fd}: it is ready ` +
        `once run writes a newline on fd ${fd})`,
      ExitCode.timeout,
      { cause: error },
    );
  }
  const services = [paths, ...(paths.log ? [paths.log] : [])]
    .map((service) => readStatus(service))
    .filter((status) => status !== null);
  return { pid: daemon.pid, pidfile: daemon.pidfile, services, stopTimeout };
}

/**
 * {@linkcode startBackgroundSupervisor} for a command run again and again (a
 * crontab line), as start-stop-daemon's `--oknodo` runs (see `startUnlessRunning`):
 * a service that an opsd supervisor already carries, and that is not exiting, is no
 * failure, and that supervisor's pid is returned as `running` instead, whatever the
 * service's state (an operator's `opsd down` stays down): looked at first, so that the
 * usual case starts no opsd only to have it refused. A supervisor being started
 * beside this one (two cron lines at once, its `--pidfile` locked before it holds the
 * service) is waited for, up to 10 s. Anything else that holds it (another tool's
 * supervisor, a supervisor taking it down to exit) is still refused (exit 5).
 */
export async function startBackgroundSupervisorUnlessRunning(
  request: BackgroundRequest,
): Promise<{ started: BackgroundSupervisor } | { running: number }> {
  const holder = (): BusyHolder => {
    const pid = runningSupervisor(request.paths);
    if (pid === null) {
      // Held by another tool's supervisor: a flock alone (daemontools', runit's).
      if (flockHolderOf(lockPath(request.paths)) !== null) return "other";
      // Refused by its --pidfile, which the supervisor being started holds before the service.
      return request.pidfile === undefined ? "other" : "passing";
    }
    // Taken by a supervisor this moment, its pid not yet written.
    if (pid < 0) return "passing";
    // Its own record, not one a supervisor that exited before it left.
    const { supervisor } = readStatusOrNull(request.paths) ?? {};
    if (supervisor?.pid === pid && supervisor.exiting) {
      // Not "already supervised: use opsd exit": that exit is under way.
      throw new OpsdError(
        `${request.paths.path} is still supervised by pid ${pid}, but ` +
          describeExiting(supervisor.exiting),
        ExitCode.busy,
      );
    }
    return { running: pid };
  };
  // Carried already (a crontab line's usual case): said at once, no opsd started to be refused.
  const found = holder();
  if (typeof found === "object") return found;
  return await startUnlessRunning(() => startBackgroundSupervisor(request), holder);
}

/**
 * Whether a supervisor of `paths` that is gone may have left processes of its
 * services running (its records name some): the new supervisor looks for them.
 */
function _mayHaveLeftBehind(paths: ServicePaths): boolean {
  return [paths, ...(paths.log ? [paths.log] : [])].some((service) => {
    try {
      return runningSupervisor(service) === null && mayHaveLeftovers(readStatus(service));
    } catch {
      return false; // a damaged record names nothing; the supervisor says so
    }
  });
}

/**
 * How long a supervisor of `paths` may take to exit after TERM: the main service's
 * stop and finish, then its log service's (which first gets a stop timeout to read
 * what is left in the pipe), plus a margin. A supervisor KILLed sooner would leave
 * services with long stop timeouts running unsupervised.
 */
function _timeToStop(paths: ServicePaths, settings: ServiceSettings): number {
  const main = settings.stopTimeout + settings.finishTimeout;
  const log = paths.log ? _settingsOf(paths.log, {}) : null;
  return main + (log ? settings.stopTimeout + log.stopTimeout + log.finishTimeout : 0) +
    _STOP_MARGIN;
}

/** A service's settings (the defaults when they are bad: the supervisor refuses it anyway). */
function _settingsOf(
  paths: ServicePaths,
  flags: Record<string, string | undefined>,
): ServiceSettings {
  try {
    return loadSettings(paths, settingsFromFlags(flags)).settings;
  } catch {
    return normalizeSettings(paths.dir);
  }
}

/**
 * Stops a supervisor {@linkcode startBackgroundSupervisor} started, as a failed
 * start is stopped: TERM (it takes its services down, each within its stop and
 * finish timeouts), KILL only after those and a margin, reaped, pidfile removed.
 * For a caller that cannot hand the supervisor's pid on, so nothing runs that
 * nobody was told of.
 */
export async function stopBackgroundSupervisor(supervisor: BackgroundSupervisor): Promise<void> {
  await stopStartedDaemon(supervisor, supervisor.stopTimeout);
}

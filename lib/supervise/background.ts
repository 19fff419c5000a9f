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

import { startDaemon, stopStartedDaemon } from "../daemon/start.ts";
import { opsdArgv } from "../self.ts";
import type { ServicePaths } from "../service/paths.ts";
import { readStatus } from "./state.ts";
import type { ServiceStatus } from "./status.ts";

/** What {@linkcode startBackgroundSupervisor} starts. */
export interface BackgroundRequest {
  /** The service to supervise. */
  paths: ServicePaths;
  /** Settings flags to pass on (`["--stop-timeout", "30s"]`). */
  args: readonly string[];
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
}

// A supervisor that failed or missed the deadline gets this long after TERM to take its
// services down (each gets its stop timeout, 10 s by default) before it gets KILL.
const _STOP_TIMEOUT = 15_000;

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
 * const { pid } = await startBackgroundSupervisor({ paths, args: [], timeout: 30_000 });
 * ```
 */
export async function startBackgroundSupervisor(
  request: BackgroundRequest,
): Promise<BackgroundSupervisor> {
  const { paths } = request;
  const daemon = await startDaemon({
    argv: opsdArgv(["supervise", "--detached", ...request.args, paths.path]),
    pidfile: request.pidfile,
    readyTimeout: request.timeout,
    readyTimeoutOption: "--start-timeout",
    stopTimeout: _STOP_TIMEOUT,
  });
  const services = [paths, ...(paths.log ? [paths.log] : [])]
    .map((service) => readStatus(service))
    .filter((status) => status !== null);
  return { pid: daemon.pid, pidfile: daemon.pidfile, services };
}

/**
 * Stops a supervisor {@linkcode startBackgroundSupervisor} started, as a failed
 * start is stopped: TERM (it takes its services down, each within its stop
 * timeout), KILL after 15 s, reaped, pidfile removed. For a caller that cannot
 * hand the supervisor's pid on, so nothing runs that nobody was told of.
 */
export async function stopBackgroundSupervisor(supervisor: BackgroundSupervisor): Promise<void> {
  await stopStartedDaemon(supervisor, _STOP_TIMEOUT);
}

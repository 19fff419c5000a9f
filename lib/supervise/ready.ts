/**
 * Telling a parent that the supervisor is up, in opsd's readiness protocol
 * (lib/process/readiness.ts), for `opsd supervise --daemon` and any other starter
 * that must not return before the service runs. One line on the readiness fd
 * (`--ready-fd FD`, else `$OPSD_READY_FD`), then the fd is let go of:
 *
 * - `0 supervising /srv/web (supervisor pid 812, /srv/web pid 813)` once every
 *   service has been started (or is wanted down);
 * - `CODE MESSAGE` when the supervisor cannot supervise: it could not start at
 *   all (2 bad settings, 4 permission, 5 already supervised, 126/127 no runnable
 *   run) or a service's first start failed (126/127). It then exits with CODE,
 *   having taken down whatever it had started.
 *
 * @module
 */

import { exitCodeOf } from "../errors.ts";
import { READY_FD_ENV, writeReadyLine } from "../process/readiness.ts";
import { setCloexec } from "../sys/libc.ts";
import { fdOrigin, requireHandedFd } from "../process/handed_fd.ts";
import type { ReadyReport } from "./supervisor.ts";

/**
 * The readiness fd a starter handed over in `$OPSD_READY_FD` (`opsd daemon
 * --wait-ready`, `opsd supervise --daemon`), or null when there is none or it
 * names no fd opsd was given (a variable inherited from further up).
 */
export function readyFdFromEnv(): number | null {
  const text = Deno.env.get(READY_FD_ENV);
  if (text === undefined || !/^\d+$/.test(text)) return null;
  const fd = Number(text);
  return fdOrigin(fd) === "handed" ? fd : null;
}

/**
 * Keeps `fd` out of every child (the parent alone should see it close). Throws a
 * usage error (exit 2) when `fd` was not handed to opsd: `--ready-fd 3` needs `3>FILE`.
 */
export function claimReadyFd(fd: number): void {
  requireHandedFd(fd, "--ready-fd", "the readiness line");
  setCloexec(fd, true);
}

/** Writes the readiness line for `report` on `fd`, then lets go of it. */
export function reportReady(fd: number, report: ReadyReport): void {
  if (report.failed) {
    const { path, code, message } = report.failed;
    writeReadyLine(fd, code, `cannot start ${path}: ${message}`);
    return;
  }
  const pids = report.services
    .filter((service) => service.pid !== null)
    .map((service) => `${service.path} pid ${service.pid}`);
  writeReadyLine(
    fd,
    0,
    `supervising ${report.services[0].path} (supervisor pid ${report.supervisorPid}` +
      `${pids.length > 0 ? `, ${pids.join(", ")}` : ", service wanted down"})`,
  );
}

/** Writes `CODE MESSAGE` for an error that stopped the supervisor from starting, then lets go of `fd`. */
export function reportFailure(fd: number, error: unknown): void {
  writeReadyLine(fd, exitCodeOf(error), (error as Error).message ?? String(error));
}

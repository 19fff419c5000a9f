/**
 * Telling a parent that the supervisor is up (`opsd supervise --ready-fd FD`),
 * for `opsd supervise --daemon` and any other starter that must not return
 * before the service runs. One line on FD, then FD is closed:
 *
 * - `0 supervising /srv/web (supervisor pid 812, /srv/web pid 813)` once every
 *   service has been started (or wanted down, or failed to start: then the line
 *   carries that start's exit code, 126 or 127, and its reason, and the
 *   supervisor goes on retrying);
 * - `CODE MESSAGE` when the supervisor could not start at all (it then exits
 *   with CODE: 2 bad settings, 5 already supervised, 126/127 no runnable run).
 *
 * End of file without a line means the supervisor died before it could say.
 *
 * @module
 */

import { exitCodeOf } from "../errors.ts";
import { O } from "../sys/constants.ts";
import { close, dup2, open, setCloexec, write } from "../sys/libc.ts";
import type { ReadyReport } from "./supervisor.ts";

/** Keeps `fd` out of every child (the parent alone should see it close). */
export function claimReadyFd(fd: number): void {
  setCloexec(fd, true);
}

/** Writes the ready line for `report` on `fd`, then lets go of it. */
export function reportReady(fd: number, report: ReadyReport): void {
  const failed = report.services.find((service) => service.error !== null);
  const pids = report.services
    .map((service) => service.pid === null ? null : `${service.path} pid ${service.pid}`)
    .filter((text) => text !== null);
  const line = failed
    ? `${failed.error!.code} cannot start ${failed.path}: ${failed.error!.message}`
    : `0 supervising ${report.services[0].path} (supervisor pid ${report.supervisorPid}` +
      `${pids.length > 0 ? `, ${pids.join(", ")}` : ", service wanted down"})`;
  _writeLine(fd, line);
}

/** Writes `CODE MESSAGE` for an error that stopped the supervisor from starting, then lets go of `fd`. */
export function reportFailure(fd: number, error: unknown): void {
  _writeLine(fd, `${exitCodeOf(error)} ${(error as Error).message ?? error}`);
}

/**
 * Writes `line` and lets go of `fd`: /dev/null takes its place, so the parent sees
 * end of file while the number stays taken (fd 1 must not become some other file).
 */
function _writeLine(fd: number, line: string): void {
  try {
    write(fd, new TextEncoder().encode(`${line.replaceAll("\n", " ")}\n`));
  } catch {
    // The parent stopped listening: nothing more to tell.
  }
  const devNull = open("/dev/null", O.RDWR | O.CLOEXEC);
  dup2(devNull, fd);
  setCloexec(fd, true);
  close(devNull);
}

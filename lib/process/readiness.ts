/**
 * The readiness protocol between opsd and a program it starts in the background
 * (`opsd daemon --wait-ready`, `opsd supervise --daemon`): the program writes ONE
 * line on the fd named in `$OPSD_READY_FD`, then closes it.
 *
 * - A line that is empty (s6's readiness newline), starts with `0 `, or is any
 *   other text means ready (`0 supervising /srv/web (…)`).
 * - `CODE MESSAGE`, CODE from 1 to 255, means it failed: the program exits with
 *   CODE, and the starter prints MESSAGE and exits with CODE too
 *   (`5 /srv/web is already supervised by pid 812: …`).
 * - End of file without a line means the program died (or gave up the fd) first.
 *
 * @module
 */

import { ExitCode } from "../errors.ts";
import { O } from "../sys/constants.ts";
import { close, dup2, open, setCloexec, write } from "../sys/libc.ts";
import { readPipeText } from "./pipe_text.ts";

/** The variable naming the fd a program started in the background reports readiness on. */
export const READY_FD_ENV = "OPSD_READY_FD";

/** What a starter learned from the readiness fd. */
export type Readiness =
  | { outcome: "ready"; message: string }
  | { outcome: "failed"; code: number; message: string }
  | { outcome: "closed" }
  | { outcome: "timeout" };

/** What one readiness line says (see the module doc). */
export function parseReadyLine(line: string): Readiness {
  const failed = /^(\d{1,3})(?: (.*))?$/s.exec(line);
  const code = failed ? Number(failed[1]) : 0;
  if (failed && code >= 1 && code <= 255) {
    return { outcome: "failed", code, message: failed[2]?.trim() || `failed with code ${code}` };
  }
  return { outcome: "ready", message: line.replace(/^0(?: |$)/, "").trim() };
}

/** Reads the readiness pipe `fd` (closing it) for up to `timeout` ms; without it, for as long as it takes. */
export async function awaitReadiness(fd: number, timeout?: number): Promise<Readiness> {
  let read;
  try {
    read = await readPipeText(fd, { line: true, timeout });
  } catch (error) {
    // A flood of bytes without a newline, or a failed read: no readiness line will come.
    return {
      outcome: "failed",
      code: ExitCode.failure,
      message: `unreadable readiness report: ${(error as Error).message}`,
    };
  }
  if (read.end === "line") return parseReadyLine(read.text);
  return { outcome: read.end === "timeout" ? "timeout" : "closed" };
}

/**
 * Writes the readiness line `CODE MESSAGE` (code 0: ready) on `fd`, then lets go
 * of it: /dev/null takes its place, so the reader sees end of file while the
 * number stays taken (fd 1 must not become some other file). A reader that
 * stopped listening is no error.
 */
export function writeReadyLine(fd: number, code: number, message: string): void {
  const line = `${code} ${message}`.replaceAll("\n", " ").trimEnd();
  try {
    write(fd, new TextEncoder().encode(`${line}\n`));
  } catch {
    // The starter stopped listening: nothing more to tell.
  }
  const devNull = open("/dev/null", O.RDWR | O.CLOEXEC);
  dup2(devNull, fd);
  setCloexec(fd, true);
  close(devNull);
}

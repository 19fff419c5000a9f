/**
 * Writing a command's output: whole texts to stdout or stderr, and JSON one
 * value per line. A closed stdout (`opsd … | head`) ends the process quietly, as
 * it does for other Unix tools.
 *
 * @module
 */

import { ExitCode } from "../errors.ts";

/** Writes all of `text` to stdout; a closed pipe (`opsd … | head`) ends the process quietly. */
export function writeOut(text: string): void {
  _writeAll(Deno.stdout, text);
}

/** Writes all of `text` to stderr: notes a command makes besides its result. */
export function writeErr(text: string): void {
  _writeAll(Deno.stderr, text);
}

/** Writes `value` as JSON on one line per value (so `jq` and line tools both work). */
export function writeJson(value: unknown): void {
  writeOut(`${JSON.stringify(value)}\n`);
}

function _writeAll(stream: typeof Deno.stdout | typeof Deno.stderr, text: string): void {
  const bytes = new TextEncoder().encode(text);
  try {
    for (let offset = 0; offset < bytes.length;) offset += stream.writeSync(bytes.subarray(offset));
  } catch (error) {
    if (error instanceof Deno.errors.BrokenPipe) Deno.exit(ExitCode.ok);
    throw error;
  }
}

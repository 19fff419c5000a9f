/**
 * Writing a command's output: whole texts to stdout or stderr, and JSON one
 * value per line. A closed stdout (`opsd … | head`) ends the process quietly, as
 * it does for other Unix tools, unless the output is a result the caller must not
 * lose (`lossless`); any other failed write to stdout is one line saying so (exit 1).
 * A stderr that cannot be written (its reader gone, a full disk) is given up
 * silently: there is nowhere to say it, and the exit code still tells what happened.
 *
 * @module
 */

import { ExitCode, OpsdError } from "../errors.ts";
import { errorReason } from "../file_error.ts";
import { readerGone } from "../sys/libc.ts";
import { escapeControls } from "../text/escape.ts";
import { unrefDelay } from "../unref_delay.ts";

/** How {@linkcode writeOut} treats a failed write. */
export interface OutputOptions {
  /**
   * The caller must get this output (the pid of a daemon just started): a closed
   * pipe is thrown like any other failure, so the command can undo what it did.
   */
  lossless?: boolean;
}

/**
 * Writes all of `text` (or bytes, copied as they are: a log that need not be UTF-8) to
 * stdout; a closed pipe (`opsd … | head`) ends the process quietly.
 */
export function writeOut(text: string | Uint8Array, options: OutputOptions = {}): void {
  try {
    _writeAll(Deno.stdout, text);
  } catch (error) {
    if (options.lossless) throw error; // the caller says what it undoes
    if (error instanceof Deno.errors.BrokenPipe) Deno.exit(ExitCode.ok);
    throw new OpsdError(
      `cannot write to stdout: ${errorReason(error)}: check where stdout goes`,
      ExitCode.failure,
      { cause: error },
    );
  }
}

/** How often {@linkcode stdoutReaderGone} looks, in ms. */
const _READER_LOOK = 200;

/**
 * Aborts once nobody reads stdout any more (`opsd tail -f … | head -n 3` after head
 * exited), looked for every 200 ms without writing. For a command that may wait
 * long between writes, which a closed pipe would otherwise end only at its next
 * write; it should then end as quietly as that write would have ended it (exit 0).
 */
export function stdoutReaderGone(): AbortSignal {
  const controller = new AbortController();
  const look = async () => {
    if (await readerGone(1 /* stdout */)) controller.abort();
    else unrefDelay(_READER_LOOK).then(look);
  };
  unrefDelay(_READER_LOOK).then(look);
  return controller.signal;
}

/**
 * Writes all of `text` to stderr: notes a command makes besides its result. One that
 * cannot be written is dropped: ending the process there (`opsd daemon … 2>&1 | head
 * -1` exited 0 for a program not found) would lose the exit code that still tells.
 */
export function writeErr(text: string): void {
  try {
    _writeAll(Deno.stderr, text);
  } catch {
    // Nowhere to say it: the exit code still tells.
  }
}

/**
 * Writes one line on stderr, `COMMAND: MESSAGE`, with control characters in the
 * message escaped (`\n`, `^[`) so that a name holding them neither splits the
 * line nor reaches the terminal: how every error and note is said.
 */
export function writeProblem(command: string, message: string): void {
  writeErr(`${command}: ${escapeControls(message)}\n`);
}

/** Writes `value` as JSON on one line per value (so `jq` and line tools both work). */
export function writeJson(value: unknown, options: OutputOptions = {}): void {
  writeOut(`${JSON.stringify(value)}\n`, options);
}

function _writeAll(
  stream: typeof Deno.stdout | typeof Deno.stderr,
  text: string | Uint8Array,
): void {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  for (let offset = 0; offset < bytes.length;) offset += stream.writeSync(bytes.subarray(offset));
}

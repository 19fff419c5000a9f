/**
 * Reading a short message from a pipe: the status an exec shim reports, or the
 * readiness line a background program writes. (A service's bulk output is read
 * by lib/supervise/output/pipe.ts instead.)
 *
 * The pipe is made non-blocking and read directly; while it is empty, `poll(2)`
 * waits for it on one of Deno's blocking-pool threads (shared with async file
 * I/O), for no longer than the time left. So a timeout returns on time even when
 * the writer neither writes nor closes, and leaves no read pending behind it. A
 * message is short: more than {@linkcode PIPE_TEXT_MAX} bytes is an error, so a
 * writer that floods the pipe cannot grow opsd's memory.
 *
 * @module
 */

import { O } from "../sys/constants.ts";
import {
  close,
  getStatusFlags,
  readNonblocking,
  setStatusFlags,
  waitReadable,
} from "../sys/libc.ts";

/** What {@linkcode readPipeText} read, and why it stopped. */
export interface PipeText {
  /** The text read (with `line`, the first line, without its newline). */
  text: string;
  /** `eof`: every writer closed the pipe; `line`: a newline arrived; `timeout`: time ran out. */
  end: "eof" | "line" | "timeout";
}

/** How much of the pipe {@linkcode readPipeText} reads. */
export interface PipeTextOptions {
  /** Stop at the first newline. */
  line?: boolean;
  /** Stop after this many milliseconds. */
  timeout?: number;
}

const _READ_SIZE = 64 * 1024;

/** The most {@linkcode readPipeText} reads: a status or readiness message is one short line. */
export const PIPE_TEXT_MAX = 64 * 1024;

/**
 * Reads the pipe `fd` until end of file (or, with `options.line`, the first
 * newline, or `options.timeout`), then closes it. Rejects when reading fails or
 * more than {@linkcode PIPE_TEXT_MAX} bytes come without an end.
 *
 * @example
 * ```ts
 * const { text, end } = await readPipeText(readyFd, { line: true, timeout: 30_000 });
 * ```
 */
export async function readPipeText(fd: number, options: PipeTextOptions = {}): Promise<PipeText> {
  const deadline = performance.now() + (options.timeout ?? Infinity);
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(_READ_SIZE);
  let text = "", size = 0;
  try {
    setStatusFlags(fd, getStatusFlags(fd) | O.NONBLOCK);
    for (;;) {
      const count = readNonblocking(fd, buffer);
      if (count === 0) return { text: text + decoder.decode(), end: "eof" };
      if (count !== null) {
        const chunk = buffer.subarray(0, count);
        text += decoder.decode(chunk, { stream: true });
        if (options.line && chunk.includes(10)) {
          return { text: text.slice(0, text.indexOf("\n")), end: "line" };
        }
        size += count;
        if (size > PIPE_TEXT_MAX) {
          throw new Error(
            `more than ${PIPE_TEXT_MAX} bytes without ${options.line ? "a newline" : "an end"}`,
          );
        }
      }
      // Checked on every pass: a writer that keeps the pipe full must not outlast the timeout.
      const left = deadline - performance.now();
      if (left <= 0) return { text: text + decoder.decode(), end: "timeout" };
      if (count === null) await waitReadable(fd, left);
    }
  } finally {
    try {
      close(fd);
    } catch {
      // Closing cannot fail for an fd that was open; what was read or thrown matters more.
    }
  }
}

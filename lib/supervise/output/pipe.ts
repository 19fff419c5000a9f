/**
 * Reading a service's output pipe as fast as it is written, in whole lines.
 *
 * The pipe is read on this thread, without blocking: `read(2)` on the
 * non-blocking read end until it is empty, then a wait for more (`poll(2)` on a
 * helper thread). Each chunk is read straight into the buffer its lines are
 * handed over from — for a log file, WebAssembly memory where they are stamped
 * without a copy in (see `StampMemory`). A Deno file read on a thread of its own
 * cost a thread hand-off per chunk and a copy, and made "has everything read been
 * handed over" a question about another thread; here it is not one.
 *
 * @module
 */

import { O } from "../../sys/constants.ts";
import {
  bytesUnread,
  close,
  getStatusFlags,
  readNonblocking,
  setStatusFlags,
  waitReadable,
} from "../../sys/libc.ts";
import { delay, within } from "../../within.ts";

/** Lines longer than this are cut (with a newline added) so that memory stays bounded. */
export const MAX_LINE = 64 * 1024;

/** The most one read takes from the pipe. */
const _READ_SIZE = 256 * 1024;

/**
 * How big a buffer {@linkcode readPipe} reads into: room for the start of a line
 * kept from the read before ({@linkcode MAX_LINE}), one read, and a newline added
 * to end a line.
 */
export const PIPE_BUFFER_SIZE = MAX_LINE + _READ_SIZE + 1;

/** How much is read before other work (writes, timers, control requests) gets a turn. */
const _TURN_BYTES = 1 << 20;

/**
 * How long, in ms, output is left in the pipe for a destination that is behind
 * without its making progress: once a write takes longer, the pipe is read again
 * (and what cannot be taken dropped), so that a slow or stuck destination holds
 * the service up for no longer than this.
 */
const _HOLD_LIMIT = 5;

/**
 * What {@linkcode readPipe} hands over: views into its buffer, valid only during
 * the call (copy what you keep).
 */
export interface PipeHandlers {
  /**
   * Every chunk as it arrives, partial lines included (for the stderr tail), and the
   * newline that ends a partial last line where `onLines` gets it ended too.
   */
  onBytes?(chunk: Uint8Array): void;
  /** Complete lines, each ending in a newline. */
  onLines(lines: Uint8Array): void;
  /**
   * Flow control: while whoever takes the lines is behind, a promise that resolves
   * when it next makes progress (else null). Meanwhile output is left in the pipe
   * (the service waits, as on any reader), but only while progress comes within
   * a few ms: a destination that is slower than that is not waited for (what it
   * cannot take is dropped) until it makes progress again.
   */
  behind?(): Promise<void> | null;
}

/** Where {@linkcode readPipe} reads into, and how long it holds output for a destination. */
export interface PipeReadOptions {
  /**
   * The buffer to read into ({@linkcode PIPE_BUFFER_SIZE} bytes; a new one when not
   * given), so that the lines handed over are views of the memory their consumer
   * works in.
   */
  buffer?: Uint8Array<ArrayBuffer>;
  /** How long output is held for a destination that makes no progress, in ms (5: see `_HOLD_LIMIT`). */
  holdLimit?: number;
}

/**
 * Reads the pipe `fd` until every writer has closed it, handing complete lines to
 * `handlers.onLines` (a partial line waits for the rest, up to {@linkcode MAX_LINE};
 * one still open at the end gets a newline). Takes over `fd` (making it
 * non-blocking) and closes it when done.
 */
export function readPipe(
  fd: number,
  handlers: PipeHandlers,
  options: PipeReadOptions = {},
): PipeReader {
  return new PipeReader(fd, handlers, options);
}

/**
 * What one {@linkcode PipeReader} drain ended with: the pipe empty, at its end, a
 * turn's worth read, or output left in it for a destination that is behind.
 */
type _Drained = "empty" | "eof" | "turn" | "held";

/** The pipe reader {@linkcode readPipe} starts: when it is done, and {@linkcode PipeReader.settle}. */
export class PipeReader {
  /** Settles once every writer has closed the pipe and the last line was handed over. */
  readonly done: Promise<void>;
  #fd: number;
  #handlers: PipeHandlers;
  #buffer: Uint8Array<ArrayBuffer>;
  /** Where each read goes: after the room for a kept partial line. */
  #readInto: Uint8Array<ArrayBuffer>;
  /** The partial line kept from the reads before: the bytes right before `MAX_LINE`. */
  #partial = 0;
  /** Whether the last chunk read ended inside a line (without its newline). */
  #midLine = false;
  #ended = false;
  /** Whether the destination was behind and made no progress within the hold limit: not waited for. */
  #stalled = false;
  #holdLimit: number;

  constructor(fd: number, handlers: PipeHandlers, options: PipeReadOptions) {
    const buffer = options.buffer ?? new Uint8Array(PIPE_BUFFER_SIZE);
    if (buffer.length < PIPE_BUFFER_SIZE) {
      throw new RangeError(`a pipe buffer needs ${PIPE_BUFFER_SIZE} bytes`);
    }
    this.#fd = fd;
    this.#handlers = handlers;
    this.#buffer = buffer;
    this.#holdLimit = options.holdLimit ?? _HOLD_LIMIT;
    this.#readInto = buffer.subarray(MAX_LINE, MAX_LINE + _READ_SIZE);
    this.done = this.#read();
  }

  /**
   * Reads what the pipe holds now and, once it is empty (at most `timeout` ms of
   * trying, never blocking the event loop), ends a partial last line (adds its
   * newline, for both handlers). Returns whether the pipe was drained; when it
   * was not (still being written to), the partial line is left as it is.
   *
   * What a process wrote before it exited is then handed over, in order: its
   * writes all sit in the pipe, or were read and handed over already.
   */
  async settle(timeout: number): Promise<boolean> {
    const deadline = Date.now() + timeout;
    while (!this.#ended) {
      if (this.#drain(false) !== "turn" && !this.#ended && bytesUnread(this.#fd) === 0) {
        this.#endLine();
        return true;
      }
      if (Date.now() >= deadline) return false;
      await delay(1);
    }
    return true; // Read to its end: the last line was ended there.
  }

  async #read(): Promise<void> {
    try {
      setStatusFlags(this.#fd, getStatusFlags(this.#fd) | O.NONBLOCK);
      for (let drained = this.#drain(true); drained !== "eof"; drained = this.#drain(true)) {
        const behind = drained === "held" ? this.#handlers.behind?.() : null;
        if (!behind) await waitReadable(this.#fd, Infinity);
        else if (!await within(behind, this.#holdLimit)) {
          this.#stalled = true;
          behind.then(() => this.#stalled = false, () => {});
        }
      }
    } finally {
      this.#ended = true;
      close(this.#fd);
    }
  }

  /**
   * Reads and hands over until the pipe is empty, every writer has closed it (the
   * last line is ended), or a turn's worth was read; with `hold`, also stops while
   * the destination is behind (unless stalled). Nothing when already ended.
   */
  #drain(hold: boolean): _Drained {
    for (let taken = 0; taken < _TURN_BYTES;) {
      if (this.#ended) return "eof";
      if (hold && !this.#stalled && this.#handlers.behind?.()) return "held";
      const count = readNonblocking(this.#fd, this.#readInto);
      if (count === null) return "empty";
      if (count === 0) {
        this.#endLine();
        this.#ended = true;
        return "eof";
      }
      this.#handle(count);
      taken += count;
    }
    return "turn";
  }

  /** Hands over the `count` bytes just read, with the partial line kept before them. */
  #handle(count: number): void {
    const buffer = this.#buffer;
    const end = MAX_LINE + count;
    const chunk = buffer.subarray(MAX_LINE, end);
    this.#midLine = chunk[count - 1] !== 10;
    this.#handlers.onBytes?.(chunk);
    const start = MAX_LINE - this.#partial;
    const last = chunk.lastIndexOf(10);
    const rest = last < 0 ? start : MAX_LINE + last + 1;
    if (rest > start) this.#handlers.onLines(buffer.subarray(start, rest));
    if (end - rest >= MAX_LINE) {
      // A line grown to MAX_LINE is handed over cut, so that what is kept stays bounded.
      buffer[end] = 10;
      this.#handlers.onLines(buffer.subarray(rest, end + 1));
      this.#partial = 0;
    } else {
      buffer.copyWithin(MAX_LINE - (end - rest), rest, end);
      this.#partial = end - rest;
    }
  }

  /** Ends a partial last line: `onLines` gets it with its newline, `onBytes` the newline. */
  #endLine(): void {
    if (this.#midLine) this.#handlers.onBytes?.(_NEWLINE);
    this.#midLine = false;
    if (this.#partial === 0) return;
    this.#buffer[MAX_LINE] = 10;
    this.#handlers.onLines(this.#buffer.subarray(MAX_LINE - this.#partial, MAX_LINE + 1));
    this.#partial = 0;
  }
}

const _NEWLINE = new Uint8Array([10]);

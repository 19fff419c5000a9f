/**
 * Reading a service's output pipe as fast as it is written, in whole lines.
 *
 * The pipe is read through `/proc/self/fd/N` opened as a Deno file: Deno reads it
 * on a worker thread in large chunks (200 MB in about 0.15 s), where `node:net`
 * over the same fd took 0.6 s. Each open pipe holds one such thread while idle.
 * The pipe's own fd stays open beside it, so that FIONREAD can say when the pipe
 * is empty, and that thread's sleep in read(2) when all that was read has been
 * delivered (see {@linkcode PipeReader.settle}).
 *
 * @module
 */

import { threadAsleepReading } from "../../procfs/syscalls.ts";
import { bytesUnread, close } from "../../sys/libc.ts";
import { delay } from "../../within.ts";

/** Lines longer than this are cut (with a newline added) so that memory stays bounded. */
export const MAX_LINE = 64 * 1024;

const _READ_SIZE = 256 * 1024;

/** What {@linkcode readPipe} hands over; both are called synchronously and must copy what they keep. */
export interface PipeHandlers {
  /**
   * Every chunk as it arrives, partial lines included (for the stderr tail), and the
   * newline that ends a partial last line where `onLines` gets it ended too.
   */
  onBytes?(chunk: Uint8Array): void;
  /** Complete lines, each ending in a newline. */
  onLines(lines: Uint8Array): void;
}

/**
 * Reads the pipe `fd` until every writer has closed it, handing complete lines to
 * `handlers.onLines` (a partial line waits for the rest, up to {@linkcode MAX_LINE};
 * one still open at the end gets a newline). Takes over `fd` and closes it when done.
 *
 * Two buffers take turns: the next read is under way while a chunk is handled.
 */
export function readPipe(fd: number, handlers: PipeHandlers): PipeReader {
  return new PipeReader(fd, handlers);
}

/** The pipe reader {@linkcode readPipe} starts: when it is done, and {@linkcode PipeReader.settle}. */
export class PipeReader {
  /** Settles once every writer has closed the pipe and the last line was handed over. */
  readonly done: Promise<void>;
  /** The pipe's own read end, kept open (close-on-exec) for FIONREAD while reading. */
  #fd: number;
  /** The pipe as `/proc/self/fd` names it (`pipe:[INODE]`): how its reading thread is found. */
  #link: string;
  #handlers: PipeHandlers;
  #partial: _PartialLine;
  /** Whether the last chunk read ended inside a line (without its newline). */
  #midLine = false;
  /** Chunks handled so far: where threads cannot be seen, tells a read delivered meanwhile. */
  #chunks = 0;
  #ended = false;

  constructor(fd: number, handlers: PipeHandlers) {
    this.#fd = fd;
    this.#link = Deno.readLinkSync(`/proc/self/fd/${fd}`);
    this.#handlers = handlers;
    this.#partial = new _PartialLine(handlers);
    this.done = this.#read();
  }

  /**
   * Waits, at most `timeout` ms and never blocking the event loop, until the pipe is
   * empty (FIONREAD) and what was read from it has been handed over, then ends a
   * partial last line (adds its newline, for both handlers). Returns whether the pipe
   * was drained; when it was not (still being written to), the partial line is left
   * as it is.
   *
   * What a process wrote before it exited is then handed over, in order: its
   * writes all sit in the pipe, or were read. A read the kernel has returned but
   * Deno has not yet delivered (its thread is slow on a loaded machine) is waited
   * for: the pipe counts as drained only while the reading thread sleeps in the
   * next read, which is asked for only once the one before was handled. Where the
   * kernel does not show what threads sleep in, 10 quiet ms must do.
   */
  async settle(timeout: number): Promise<boolean> {
    const deadline = Date.now() + timeout;
    while (!this.#ended) {
      const seen = this.#chunks;
      if (bytesUnread(this.#fd) === 0) {
        const asleep = threadAsleepReading(this.#link);
        // Where the kernel does not tell, no chunk delivered over a timer turn must do.
        if (asleep ?? await this.#quietFor(seen)) {
          this.#endLine();
          return true;
        }
      }
      if (Date.now() >= deadline) return false;
      await delay(1);
    }
    return true; // Read to its end: the last line was ended there.
  }

  /**
   * After 10 ms: whether no chunk arrived since `seen` and the pipe is empty (a read
   * held up longer than that on a loaded machine can still split a line here).
   */
  async #quietFor(seen: number): Promise<boolean> {
    await delay(10);
    return !this.#ended && this.#chunks === seen && bytesUnread(this.#fd) === 0;
  }

  /** Ends a partial last line: `onLines` gets it with its newline, `onBytes` the newline. */
  #endLine(): void {
    if (this.#midLine) this.#handlers.onBytes?.(_NEWLINE);
    this.#midLine = false;
    this.#partial.end(_NEWLINE);
  }

  async #read(): Promise<void> {
    const handlers = this.#handlers;
    let file: Deno.FsFile | null = null;
    try {
      file = await Deno.open(`/proc/self/fd/${this.#fd}`, { read: true });
      const buffers = [new Uint8Array(_READ_SIZE), new Uint8Array(_READ_SIZE)];
      const partial = this.#partial;
      let turn = 0;
      let reading = file.read(buffers[turn]);
      for (let count = await reading; count !== null; count = await reading) {
        const chunk = buffers[turn].subarray(0, count);
        turn ^= 1;
        reading = file.read(buffers[turn]);
        this.#chunks++;
        this.#midLine = chunk[count - 1] !== 10;
        handlers.onBytes?.(chunk);
        const last = chunk.lastIndexOf(10);
        if (last < 0) {
          partial.add(chunk);
          continue;
        }
        const first = partial.length > 0 ? chunk.indexOf(10) : -1;
        if (first >= 0) partial.end(chunk.subarray(0, first + 1));
        if (last > first) handlers.onLines(chunk.subarray(first + 1, last + 1));
        partial.add(chunk.subarray(last + 1));
      }
      this.#endLine();
    } finally {
      this.#ended = true;
      file?.close();
      close(this.#fd);
    }
  }
}

const _NEWLINE = new Uint8Array([10]);

/** The start of a line still being written, kept until its newline arrives. */
class _PartialLine {
  #bytes = new Uint8Array(MAX_LINE + _READ_SIZE + 1);
  length = 0;

  constructor(readonly handlers: PipeHandlers) {}

  /** Appends `bytes` (no newline in them); a line grown past MAX_LINE is handed over cut. */
  add(bytes: Uint8Array): void {
    this.#bytes.set(bytes, this.length);
    this.length += bytes.length;
    if (this.length >= MAX_LINE) this.end(_NEWLINE);
  }

  /** Hands over the kept start with `rest` (which ends with a newline); nothing when empty. */
  end(rest: Uint8Array): void {
    if (this.length === 0 && rest.length === 1 && rest[0] === 10) return;
    this.#bytes.set(rest, this.length);
    this.handlers.onLines(this.#bytes.subarray(0, this.length + rest.length));
    this.length = 0;
  }
}

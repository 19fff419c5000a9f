/**
 * Reading a short message from a pipe: the status an exec shim reports, or the
 * readiness line a background program writes. (A service's bulk output is read
 * by lib/supervise/output/pipe.ts instead.)
 *
 * @module
 */

import net from "node:net";

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

/**
 * Reads the pipe `fd` until end of file (or, with `options.line`, the first
 * newline, or `options.timeout`), then closes it. Rejects when reading fails.
 *
 * @example
 * ```ts
 * const { text, end } = await readPipeText(readyFd, { line: true, timeout: 30_000 });
 * ```
 */
export function readPipeText(fd: number, options: PipeTextOptions = {}): Promise<PipeText> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let end: PipeText["end"] = "eof";
    let failure: Error | null = null;
    const pipe = new net.Socket({ fd, readable: true, writable: false });
    const stop = (why: PipeText["end"]) => {
      end = why;
      pipe.destroy();
    };
    const timer = options.timeout === undefined
      ? undefined
      : setTimeout(() => stop("timeout"), options.timeout);
    pipe.on("data", (chunk: Uint8Array) => {
      chunks.push(chunk);
      if (options.line && chunk.includes(10)) stop("line");
    });
    pipe.on("end", () => pipe.destroy());
    pipe.on("error", (error: Error) => failure = error);
    // "close" comes last, once the fd is closed, whatever ended the reading.
    pipe.on("close", () => {
      clearTimeout(timer);
      // An error after reading was stopped on purpose (line, timeout) is the stop's own.
      if (failure && end === "eof") return reject(failure);
      const text = new TextDecoder().decode(Buffer.concat(chunks));
      resolve({ text: end === "line" ? text.slice(0, text.indexOf("\n")) : text, end });
    });
  });
}

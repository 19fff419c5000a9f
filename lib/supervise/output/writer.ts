/**
 * Writing output without ever making the service wait: a bounded queue in front
 * of a slow destination (a disk, a terminal, a full pipe). When the queue is full
 * new output is dropped and counted instead, and once writing catches up a marker
 * says how much was lost.
 *
 * @module
 */

/** Where a {@linkcode BoundedWriter} writes: anything with an async `write` (FsFile, stdout). */
export interface ByteSink {
  /** Writes some of `bytes`, resolving to how many. */
  write(bytes: Uint8Array): Promise<number>;
}

/** How a {@linkcode BoundedWriter} reports drops and errors. */
export interface BoundedWriterOptions {
  /** The most bytes that may wait to be written; more is dropped. */
  capacity: number;
  /** The line that tells the reader `bytes` were dropped (written once writing resumes). */
  marker?: (bytes: number) => Uint8Array;
  /** Called when a write fails (the batch is dropped and counted). */
  onError?: (error: Error) => void;
}

/**
 * A write queue with a byte limit. `push` never waits: it queues or drops. One
 * write is in flight at a time, and queued chunks go out together.
 */
export class BoundedWriter {
  #sink: ByteSink;
  #options: BoundedWriterOptions;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing: Promise<void> | null = null;
  #unreported = 0;
  /** Every byte dropped so far, because the queue was full or a write failed. */
  dropped = 0;

  constructor(sink: ByteSink, options: BoundedWriterOptions) {
    this.#sink = sink;
    this.#options = options;
  }

  /** Queues `bytes` (kept by reference: do not reuse the array); false when they were dropped. */
  push(bytes: Uint8Array): boolean {
    if (bytes.length === 0) return true;
    if (this.#queued + bytes.length > this.#options.capacity) {
      this.dropped += bytes.length;
      this.#unreported += bytes.length;
      return false;
    }
    if (this.#unreported > 0 && this.#options.marker) {
      const marker = this.#options.marker(this.#unreported);
      this.#queue.push(marker);
      this.#queued += marker.length;
    }
    this.#unreported = 0;
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    this.#writing ??= this.#pump();
    return true;
  }

  /** Resolves once everything queued so far has been written (or dropped). */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = _concat(this.#queue);
        this.#queue = [];
        try {
          for (let offset = 0; offset < batch.length;) {
            offset += await this.#sink.write(batch.subarray(offset));
          }
        } catch (error) {
          this.dropped += batch.length;
          this.#unreported += batch.length;
          this.#options.onError?.(error as Error);
        } finally {
          this.#queued -= batch.length;
        }
      }
    } finally {
      this.#writing = null;
    }
  }
}

function _concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

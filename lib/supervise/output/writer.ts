/**
 * Writing output without ever making the service wait: a bounded queue in front
 * of a slow destination (a disk, a terminal, a full pipe). When the queue is full
 * new output is dropped and counted instead, and once writing catches up a marker
 * line says how much was lost.
 *
 * Output is copied into reusable 1 MiB chunks: allocating a fresh array per read
 * cost more than the copy itself (V8 zeroes new memory), and while one write is in
 * flight the next chunk fills up, so a busy destination gets few, large writes
 * and an idle one gets each line at once.
 *
 * @module
 */

/** Where a {@linkcode BoundedWriter} writes: anything with an async `write` (FsFile, stdout). */
export interface ByteSink {
  /** Writes some of `bytes`, resolving to how many. */
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * Told how many bytes of what one caller pushed were lost to a failed write
 * (see {@linkcode BoundedWriter.push}): a writer shared by several services
 * counts each one's loss.
 */
export type LossListener = (bytes: number) => void;

/** How a {@linkcode BoundedWriter} reports drops and errors. */
export interface BoundedWriterOptions {
  /** The most bytes that may wait to be written; more is dropped. */
  capacity: number;
  /** The line that tells the reader `bytes` were dropped (written once writing resumes). */
  marker?: (bytes: number) => Uint8Array;
  /** Called when a write fails (the chunk is dropped and counted). */
  onError?: (error: Error) => void;
}

const _CHUNK = 1 << 20;

/** A chunk waiting to be written, how many bytes were lost right before it, and whose bytes it holds. */
interface _Chunk {
  bytes: Uint8Array;
  lostBefore: number;
  owners: Map<LossListener, number>;
}
const _SPARE_CHUNKS = 2;

/**
 * A write queue with a byte limit. `push` never waits: it copies or drops. One
 * write is in flight at a time.
 */
export class BoundedWriter {
  #sink: ByteSink;
  #options: BoundedWriterOptions;
  /** Filled chunks waiting to be written. */
  #queue: _Chunk[] = [];
  /** The chunk being filled, and how much of it is. */
  #current: Uint8Array | null = null;
  #used = 0;
  /** Bytes lost right before the chunk being filled (its marker goes first). */
  #currentLostBefore = 0;
  /** Whose bytes the chunk being filled holds, and how many. */
  #currentOwners = new Map<LossListener, number>();
  /** Bytes lost since the chunk being filled was started: the next chunk's to mark. */
  #lostPending = 0;
  /** Bytes queued or in the current chunk: what counts against the capacity. */
  #pending = 0;
  #spare: Uint8Array[] = [];
  #writing: Promise<void> | null = null;
  /** Every byte dropped so far, because the queue was full or a write failed. */
  dropped = 0;

  constructor(sink: ByteSink, options: BoundedWriterOptions) {
    this.#sink = sink;
    this.#options = options;
  }

  /**
   * Copies into the queue as many of `lines` (whole lines) as fit, whole lines
   * from the start, and drops the rest; returns how many bytes it dropped. If a
   * write of what was taken fails later, `onLost` is told how many of these
   * bytes were lost with it.
   */
  push(lines: Uint8Array, onLost?: LossListener): number {
    const room = this.#options.capacity - this.#pending;
    const taken = lines.length <= room ? lines.length : lines.subarray(0, room).lastIndexOf(10) + 1;
    if (taken > 0) {
      this.#append(lines.subarray(0, taken), onLost);
      if (!this.#writing) {
        this.#seal();
        this.#writing = this.#pump();
      }
    }
    const lost = lines.length - taken;
    if (lost > 0) {
      this.dropped += lost;
      // What comes next starts a chunk of its own, with the marker before it.
      this.#seal();
      this.#lostPending += lost;
    }
    return lost;
  }

  /** Resolves once everything pushed so far has been written (or dropped). */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  /** Copies whole lines into chunks, starting a new chunk at a line boundary when one is full. */
  #append(lines: Uint8Array, onLost: LossListener | undefined): void {
    for (let rest = lines; rest.length > 0;) {
      if (!this.#current) {
        this.#current = this.#spare.pop() ?? new Uint8Array(_CHUNK);
        this.#currentLostBefore = this.#lostPending;
        this.#lostPending = 0;
      }
      const room = this.#current.length - this.#used;
      let part = rest;
      if (rest.length > room) {
        const cut = rest.subarray(0, room).lastIndexOf(10);
        if (cut >= 0) part = rest.subarray(0, cut + 1);
        else if (this.#used > 0) part = rest.subarray(0, 0);
        else part = rest.subarray(0, rest.indexOf(10) + 1 || rest.length);
      }
      if (part.length > room) {
        // One line longer than a chunk: it goes out on its own.
        const owners = new Map<LossListener, number>();
        _own(owners, onLost, part.length);
        this.#queue.push({ bytes: part.slice(), lostBefore: this.#currentLostBefore, owners });
        this.#currentLostBefore = 0;
      } else {
        this.#current.set(part, this.#used);
        this.#used += part.length;
        _own(this.#currentOwners, onLost, part.length);
      }
      this.#pending += part.length;
      rest = rest.subarray(part.length);
      if (rest.length > 0) this.#seal();
    }
  }

  /** Queues the chunk being filled. */
  #seal(): void {
    if (!this.#current || this.#used === 0) return;
    this.#queue.push({
      bytes: this.#current.subarray(0, this.#used),
      lostBefore: this.#currentLostBefore,
      owners: this.#currentOwners,
    });
    this.#currentLostBefore = 0;
    this.#currentOwners = new Map();
    this.#current = null;
    this.#used = 0;
  }

  /**
   * Writes the queue in order. Before a chunk goes the marker for what was lost
   * right before it (dropped when the queue was full, or chunks whose write
   * failed, and markers that could not be written); a loss after everything
   * queued is marked once that is written.
   */
  async #pump(): Promise<void> {
    const marker = this.#options.marker;
    // Lost before the next chunk and not marked yet: failed writes, failed markers.
    let carry = 0;
    try {
      for (;;) {
        if (this.#queue.length === 0) this.#seal(); // What filled up meanwhile, as one write.
        const chunk = this.#queue.shift();
        const lost = carry + (chunk ? chunk.lostBefore : this.#lostPending);
        if (!chunk) this.#lostPending = 0;
        carry = lost > 0 && marker && !await this.#write(marker(lost)) ? lost : 0;
        if (!chunk) {
          // All written; go on only if output came while the marker was written.
          if (this.#queue.length === 0 && this.#used === 0) break;
          continue;
        }
        const { bytes } = chunk;
        if (!await this.#write(bytes)) {
          this.dropped += bytes.length;
          carry += bytes.length;
          for (const [onLost, count] of chunk.owners) onLost(count);
        }
        this.#pending -= bytes.length;
        if (bytes.buffer.byteLength === _CHUNK && this.#spare.length < _SPARE_CHUNKS) {
          this.#spare.push(new Uint8Array(bytes.buffer as ArrayBuffer));
        }
      }
    } finally {
      // Not marked yet: the marker goes before the next output.
      if (this.#current && this.#used > 0) this.#currentLostBefore += carry;
      else this.#lostPending += carry;
      this.#writing = null;
    }
  }

  /** Writes all of `bytes`; false (after reporting the error) when writing failed. */
  async #write(bytes: Uint8Array): Promise<boolean> {
    try {
      for (let offset = 0; offset < bytes.length;) {
        offset += await this.#sink.write(bytes.subarray(offset));
      }
      return true;
    } catch (error) {
      this.#options.onError?.(error as Error);
      return false;
    }
  }
}

/** Adds `count` bytes to what `onLost` (if any) owns in a chunk. */
function _own(owners: Map<LossListener, number>, onLost: LossListener | undefined, count: number) {
  if (onLost && count > 0) owners.set(onLost, (owners.get(onLost) ?? 0) + count);
}

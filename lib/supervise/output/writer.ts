/**
 * Writing output without ever making the service wait: a bounded queue in front
 * of a slow destination (a disk, a terminal, a full pipe). When the queue is full
 * new output is dropped and counted instead, and once writing catches up a marker
 * line says how much was lost.
 *
 * Output is copied into reusable 1 MiB chunks: allocating a fresh array per read
 * cost more than the copy itself (V8 zeroes new memory), and while one write is in
 * flight the next chunk fills up, so a busy destination gets few, large writes
 * and an idle one gets each line at once. A log file's writer takes its chunks from
 * the blocks of a {@linkcode StampMemory} and stamps lines straight into them
 * ({@linkcode BoundedWriter.pushStamped}): no copy besides the stamping.
 *
 * @module
 */

import { discardPages } from "../../sys/libc.ts";
import type { StampMemory } from "./stamp.ts";

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
  /**
   * Where the chunks are, for a writer that stamps lines ({@linkcode BoundedWriter.pushStamped}):
   * that memory's blocks, which must hold `capacity` and one block more.
   */
  stamp?: StampMemory;
}

const _CHUNK = 1 << 20;

/**
 * Above this many bytes waiting (or half the capacity, if less), the writer counts
 * as behind (see {@linkcode BoundedWriter.behind}): a queue that stays below it
 * stays in a few blocks whose memory is warm, where one that grows touches new
 * pages (a fault each) and cold cache lines.
 */
const _BEHIND = 4 << 20;

/** A chunk waiting to be written, how many bytes were lost right before it, and whose bytes it holds. */
interface _Chunk {
  bytes: Uint8Array;
  lostBefore: number;
  owners: _Owners;
  /** The reusable block it lives in (given back once written); none for a line longer than one. */
  block?: Uint8Array;
}

/** Whose bytes a chunk holds, in order: runs of `[listener, bytes]` (null: nobody's). */
type _Owners = [LossListener | null, number][];

/** Where a writer's chunks come from, and go back to once written. */
interface _ChunkPool {
  /** A block to fill, or null when none is free. */
  take(): Uint8Array | null;
  give(block: Uint8Array): void;
}

/** Chunks on the JavaScript heap: made when needed, a few kept for reuse. */
class _HeapPool implements _ChunkPool {
  #spare: Uint8Array[] = [];
  take(): Uint8Array {
    return this.#spare.pop() ?? new Uint8Array(_CHUNK);
  }
  give(block: Uint8Array): void {
    if (this.#spare.length < _SPARE_CHUNKS) this.#spare.push(block);
  }
}
const _SPARE_CHUNKS = 2;

/**
 * A {@linkcode StampMemory}'s blocks, the most recently freed taken first (its
 * memory is the warmest). Beyond a few free ones kept warm, a block given back has
 * its memory discarded: a WebAssembly memory never shrinks, so the blocks a burst
 * filled would otherwise stay resident for good.
 */
class _BlockPool implements _ChunkPool {
  /** Free blocks written before, most recently freed last. */
  #warm: Uint8Array<ArrayBuffer>[] = [];
  /** Free blocks never written or discarded since. */
  #cold: Uint8Array<ArrayBuffer>[];
  constructor(memory: StampMemory) {
    this.#cold = memory.blocks.toReversed();
  }
  take(): Uint8Array | null {
    return this.#warm.pop() ?? this.#cold.pop() ?? null;
  }
  give(block: Uint8Array<ArrayBuffer>): void {
    if (this.#warm.length < _WARM_BLOCKS) return void this.#warm.push(block);
    discardPages(block);
    this.#cold.push(block);
  }
}

/** How many free blocks a {@linkcode _BlockPool} keeps warm. */
const _WARM_BLOCKS = 4;

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
  #currentOwners: _Owners = [];
  /** Bytes lost since the chunk being filled was started: the next chunk's to mark. */
  #lostPending = 0;
  /** Bytes queued or in the current chunk: what counts against the capacity. */
  #pending = 0;
  #pool: _ChunkPool;
  #writing: Promise<void> | null = null;
  /** Resolved at the end of the next write: what {@linkcode behind} hands out. */
  #progress: PromiseWithResolvers<void> | null = null;
  /** Every byte dropped so far, because the queue was full or a write failed. */
  dropped = 0;

  constructor(sink: ByteSink, options: BoundedWriterOptions) {
    this.#sink = sink;
    this.#options = options;
    this.#pool = options.stamp ? new _BlockPool(options.stamp) : new _HeapPool();
  }

  /**
   * Copies into the queue as many of `lines` (whole lines) as fit, whole lines
   * from the start, and drops the rest; returns how many bytes it dropped. If a
   * write of what was taken fails later, `onLost` is told how many of these
   * bytes were lost with it.
   */
  push(lines: Uint8Array, onLost?: LossListener): number {
    const room = this.#options.capacity - this.#pending;
    const fits = lines.length <= room ? lines.length : lines.subarray(0, room).lastIndexOf(10) + 1;
    return this.#pushed(lines.length - this.#append(lines.subarray(0, fits), onLost));
  }

  /**
   * Stamps `lines` (whole lines, a view into the {@linkcode StampMemory} this
   * writer was made with) with `prefix` before each, straight into the queue, as
   * many as fit, whole lines from the start, and drops the rest; returns how many
   * bytes it dropped (as they would have been written, prefixes included).
   */
  pushStamped(lines: Uint8Array, prefix: Uint8Array): number {
    const memory = this.#options.stamp;
    if (!memory) throw new Error("pushStamped needs a writer made with a StampMemory");
    if (!memory.holds(lines)) throw new RangeError("lines to stamp: a view outside this memory");
    let rest = lines;
    while (rest.length > 0) {
      const room = this.#options.capacity - this.#pending;
      const current = room > 0 ? this.#current ?? this.#start() : null;
      if (!current) break;
      const limit = Math.min(current.length, this.#used + room);
      const { read, written } = memory.stamp(rest, prefix, current, this.#used, limit);
      this.#used += written;
      this.#pending += written;
      rest = rest.subarray(read);
      // Stopped short: the queue is full, or a line does not fit even an empty chunk.
      if (rest.length > 0 && (limit < current.length || this.#used === 0)) break;
      if (rest.length > 0) this.#seal(); // The chunk is full: on in the next.
    }
    return this.#pushed(rest.length === 0 ? 0 : _stampedSize(rest, prefix.length));
  }

  /**
   * After a push: starts writing when no write is under way, and counts `lost`
   * bytes dropped (what comes next starts a chunk of its own, with the marker before
   * it). Returns `lost`.
   */
  #pushed(lost: number): number {
    if (!this.#writing && (this.#used > 0 || this.#queue.length > 0)) {
      this.#seal();
      this.#writing = this.#pump();
    }
    if (lost > 0) {
      this.dropped += lost;
      this.#seal();
      this.#lostPending += lost;
    }
    return lost;
  }

  /**
   * While more than 4 MiB (or half the capacity) wait to be written: a promise that
   * resolves when the next write ends, so that a reader can leave output in its
   * pipe meanwhile (flow control, as between any two processes) rather than queue
   * it here; null when the writer keeps up.
   */
  behind(): Promise<void> | null {
    const limit = Math.min(_BEHIND, this.#options.capacity / 2);
    if (this.#pending <= limit || !this.#writing) return null;
    return (this.#progress ??= Promise.withResolvers()).promise;
  }

  /** Resolves once everything pushed so far has been written (or dropped). */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  /**
   * Copies whole lines into chunks, starting a new chunk at a line boundary when one
   * is full; returns how many bytes it took (all, unless no chunk was free).
   */
  #append(lines: Uint8Array, onLost: LossListener | undefined): number {
    let rest = lines;
    while (rest.length > 0) {
      const current = this.#current ?? this.#start();
      if (!current) break;
      const room = current.length - this.#used;
      let part = rest;
      if (rest.length > room) {
        const cut = rest.subarray(0, room).lastIndexOf(10);
        if (cut >= 0) part = rest.subarray(0, cut + 1);
        else if (this.#used > 0) part = rest.subarray(0, 0);
        else part = rest.subarray(0, rest.indexOf(10) + 1 || rest.length);
      }
      if (part.length > room) {
        // One line longer than a chunk: it goes out on its own.
        const owners: _Owners = [];
        _own(owners, onLost, part.length);
        this.#queue.push({ bytes: part.slice(), lostBefore: this.#currentLostBefore, owners });
        this.#currentLostBefore = 0;
      } else {
        current.set(part, this.#used);
        this.#used += part.length;
        _own(this.#currentOwners, onLost, part.length);
      }
      this.#pending += part.length;
      rest = rest.subarray(part.length);
      if (rest.length > 0) this.#seal();
    }
    return lines.length - rest.length;
  }

  /** Takes a chunk to fill (null when none is free); the marker of a loss before it goes first. */
  #start(): Uint8Array | null {
    this.#current = this.#pool.take();
    if (this.#current) {
      this.#currentLostBefore = this.#lostPending;
      this.#lostPending = 0;
    }
    return this.#current;
  }

  /** Queues the chunk being filled. */
  #seal(): void {
    if (!this.#current || this.#used === 0) return;
    this.#queue.push({
      bytes: this.#current.subarray(0, this.#used),
      lostBefore: this.#currentLostBefore,
      owners: this.#currentOwners,
      block: this.#current,
    });
    this.#currentLostBefore = 0;
    this.#currentOwners = [];
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
        carry = lost > 0 && marker && await this.#write(marker(lost)) > 0 ? lost : 0;
        if (!chunk) {
          // All written; go on only if output came while the marker was written.
          if (this.#queue.length === 0 && this.#used === 0) break;
          continue;
        }
        const { bytes } = chunk;
        const failed = await this.#write(bytes);
        if (failed > 0) {
          this.dropped += failed;
          carry += failed;
          _tellLosers(chunk.owners, failed);
        }
        this.#pending -= bytes.length;
        if (chunk.block) this.#pool.give(chunk.block);
        this.#progress?.resolve();
        this.#progress = null;
      }
    } finally {
      // Not marked yet: the marker goes before the next output.
      if (this.#current && this.#used > 0) this.#currentLostBefore += carry;
      else this.#lostPending += carry;
      this.#writing = null;
      this.#progress?.resolve();
      this.#progress = null;
    }
  }

  /**
   * Writes all of `bytes`; when writing failed (the error reported), returns how
   * many of them did not get in (the last ones), else 0.
   */
  async #write(bytes: Uint8Array): Promise<number> {
    let offset = 0;
    try {
      while (offset < bytes.length) offset += await this.#sink.write(bytes.subarray(offset));
      return 0;
    } catch (error) {
      this.#options.onError?.(error as Error);
      return bytes.length - offset;
    }
  }
}

/** Adds `count` bytes of `onLost` (none: nobody's) at the end of a chunk's runs. */
function _own(owners: _Owners, onLost: LossListener | undefined, count: number) {
  if (count === 0) return;
  const last = owners.at(-1);
  if (last && last[0] === (onLost ?? null)) last[1] += count;
  else owners.push([onLost ?? null, count]);
}

/** Tells the owners of a chunk's last `lost` bytes (those that did not get in) how many were theirs. */
function _tellLosers(owners: _Owners, lost: number): void {
  const told = new Map<LossListener, number>();
  for (let index = owners.length - 1, left = lost; index >= 0 && left > 0; index--) {
    const [onLost, count] = owners[index];
    const theirs = Math.min(count, left);
    if (onLost) told.set(onLost, (told.get(onLost) ?? 0) + theirs);
    left -= theirs;
  }
  for (const [onLost, count] of told) onLost(count);
}

/** How many bytes the whole lines `lines` take stamped with a prefix of `prefix` bytes. */
function _stampedSize(lines: Uint8Array, prefix: number): number {
  let count = 0;
  for (let at = lines.indexOf(10); at >= 0; at = lines.indexOf(10, at + 1)) count++;
  return lines.length + count * prefix;
}

/**
 * Prefixing every line of a service's output with a timestamp and the stream
 * name, for log files. The copying runs in a small WebAssembly module
 * (`stamp.wat`, 16 bytes per SIMD step): a JavaScript loop over 200 MB of
 * 100-byte lines took about 0.5 s, this about 0.05 s.
 *
 * The pipes are read straight into the module's memory and the stamped lines
 * written straight out of it (see `BoundedWriter`), so each byte is copied once
 * on its way from the pipe to the file: what lets the supervisor keep up with a
 * service writing as fast as it can.
 *
 * @module
 */

import { DISCARD_UNIT } from "../../sys/libc.ts";
import { STAMP_WASM_BASE64 } from "./stamp_wasm.ts";

/** The longest prefix {@linkcode StampMemory.stamp} takes (the module copies it as two 16-byte words). */
export const MAX_PREFIX = 32;

/** How a {@linkcode StampMemory} is laid out: its input buffers and its output blocks. */
export interface StampLayout {
  /** How many input buffers (one per pipe read), and how big each is. */
  inputs: number;
  inputSize: number;
  /** How many output blocks (the chunks a writer queues), and how big each is. */
  blocks: number;
  blockSize: number;
}

/** The module's `stamp` (see stamp.wat): returns the end of what it wrote; `next` says where it stopped reading. */
type _StampRoutine = (
  src: number,
  end: number,
  dst: number,
  limit: number,
  pre: number,
  plen: number,
) => number;

/** Room after every region: the module reads up to 15 bytes past its input. */
const _SLACK = 64;

/** The compiled module, shared by every memory (each gets an instance of its own). */
let _module: WebAssembly.Module | undefined;

/**
 * One WebAssembly memory holding the buffers pipes are read into and the blocks
 * stamped lines are written from, and the routine that stamps from one to the
 * other. Its pages cost memory only once touched; each block starts at a
 * {@linkcode DISCARD_UNIT}, so that its memory can be given back.
 */
export class StampMemory {
  /** The input buffers, in the order asked for. */
  readonly inputs: Uint8Array<ArrayBuffer>[];
  /** The output blocks. */
  readonly blocks: Uint8Array<ArrayBuffer>[];
  #heap: Uint8Array<ArrayBuffer>;
  #stamp: _StampRoutine;
  #next: WebAssembly.Global;

  constructor(layout: StampLayout) {
    _module ??= new WebAssembly.Module(
      Uint8Array.from(atob(STAMP_WASM_BASE64), (c) => c.charCodeAt(0)),
    );
    const instance = new WebAssembly.Instance(_module);
    const memory = instance.exports.memory as WebAssembly.Memory;
    let offset = MAX_PREFIX + _SLACK;
    const region = (size: number, align = 1) => {
      const at = Math.ceil(offset / align) * align;
      offset = at + size + _SLACK;
      return () => new Uint8Array(memory.buffer as ArrayBuffer, at, size);
    };
    const inputs = Array.from({ length: layout.inputs }, () => region(layout.inputSize));
    // Blocks start where their memory can be given back (discardPages).
    const blocks = Array.from(
      { length: layout.blocks },
      () => region(layout.blockSize, DISCARD_UNIT),
    );
    memory.grow(Math.ceil(offset / 65536) - memory.buffer.byteLength / 65536);
    this.inputs = inputs.map((view) => view());
    this.blocks = blocks.map((view) => view());
    this.#heap = new Uint8Array(memory.buffer as ArrayBuffer);
    this.#stamp = instance.exports.stamp as _StampRoutine;
    this.#next = instance.exports.next as WebAssembly.Global;
  }

  /** Whether `view` lies in this memory. */
  holds(view: Uint8Array): boolean {
    return view.buffer === this.#heap.buffer;
  }

  /**
   * Copies the whole lines at the start of `lines` into `out` from `at` on, with
   * `prefix` before each, stopping before a line that does not end within `lines`
   * or would not fit before `limit` (the routine needs up to 48 bytes of room
   * more than a line takes). Both views must lie in this memory. Returns how
   * many bytes of `lines` it took and how many it wrote.
   */
  stamp(
    lines: Uint8Array,
    prefix: Uint8Array,
    out: Uint8Array,
    at: number,
    limit: number,
  ): { read: number; written: number } {
    if (!this.holds(lines) || !this.holds(out)) throw new RangeError("a view outside this memory");
    if (prefix.length > MAX_PREFIX) throw new RangeError(`prefix longer than ${MAX_PREFIX} bytes`);
    this.#heap.set(prefix, 0);
    const dst = out.byteOffset + at;
    const stop = this.#stamp(
      lines.byteOffset,
      lines.byteOffset + lines.length,
      dst,
      out.byteOffset + Math.min(limit, out.length),
      0,
      prefix.length,
    );
    return { read: (this.#next.value as number) - lines.byteOffset, written: stop - dst };
  }
}

/**
 * Prefixing every line of a service's output with a timestamp and the stream
 * name, for log files. The copying runs in a small WebAssembly module
 * (`stamp.wat`, 16 bytes per SIMD step): a JavaScript loop over 200 MB of
 * 100-byte lines took about 0.5 s, this about 0.08 s with the copy in, which is
 * what lets the supervisor keep up with a service writing as fast as it can.
 *
 * @module
 */

import { STAMP_WASM_BASE64 } from "./stamp_wasm.ts";

/** The longest prefix {@linkcode stampLines} takes (the module copies it as four words). */
export const MAX_PREFIX = 32;

const _PREFIX_AT = 0;
const _INPUT_AT = 64;
const _INPUT_SIZE = 1 << 20;
// The module reads up to 15 bytes past the input: the gap keeps them in memory.
const _OUTPUT_AT = _INPUT_AT + _INPUT_SIZE + 64;
const _OUTPUT_SIZE = 2 << 20;

interface _Module {
  heap: Uint8Array;
  stamp: (
    src: number,
    end: number,
    dst: number,
    limit: number,
    pre: number,
    plen: number,
  ) => number;
  next: WebAssembly.Global;
}

let _module: _Module | undefined;

function _instance(): _Module {
  if (_module) return _module;
  const bytes = Uint8Array.from(atob(STAMP_WASM_BASE64), (c) => c.charCodeAt(0));
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  const memory = instance.exports.memory as WebAssembly.Memory;
  const pages = Math.ceil((_OUTPUT_AT + _OUTPUT_SIZE + 64) / 65536);
  memory.grow(pages - memory.buffer.byteLength / 65536);
  return _module = {
    heap: new Uint8Array(memory.buffer),
    stamp: instance.exports.stamp as _Module["stamp"],
    next: instance.exports.next as WebAssembly.Global,
  };
}

/**
 * Copies `lines` (complete lines: the last byte is a newline, and no line is
 * longer than 1 MiB) with `prefix` before each, handing the result to `emit` in
 * one or more pieces of whole lines. Each piece is a view that is valid only
 * during the call: copy what you keep.
 *
 * @example
 * ```ts
 * stampLines(encode("a\nb\n"), encode("12:00 "), (bytes) => out.push(bytes));
 * // "12:00 a\n12:00 b\n"
 * ```
 */
export function stampLines(
  lines: Uint8Array,
  prefix: Uint8Array,
  emit: (bytes: Uint8Array) => void,
): void {
  if (prefix.length > MAX_PREFIX) throw new RangeError(`prefix longer than ${MAX_PREFIX} bytes`);
  const { heap, stamp, next } = _instance();
  heap.set(prefix, _PREFIX_AT);
  for (let offset = 0; offset < lines.length;) {
    const window = lines.subarray(offset, offset + _INPUT_SIZE);
    heap.set(window, _INPUT_AT);
    // Only whole lines go in: the window ends after its last newline.
    const last = heap.subarray(_INPUT_AT, _INPUT_AT + window.length).lastIndexOf(10);
    if (last < 0) throw new RangeError("a line longer than 1 MiB, or no final newline");
    const end = _INPUT_AT + last + 1;
    for (let src = _INPUT_AT; src < end;) {
      const stop = stamp(
        src,
        end,
        _OUTPUT_AT,
        _OUTPUT_AT + _OUTPUT_SIZE,
        _PREFIX_AT,
        prefix.length,
      );
      emit(heap.subarray(_OUTPUT_AT, stop));
      src = next.value as number;
    }
    offset += last + 1;
  }
}

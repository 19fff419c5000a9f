/**
 * The last bytes of a stream, readproctitle-style: what `opsd status` shows under
 * a failing service and what `opsd tail` prints (see `ServiceOutput.lastOutput`).
 *
 * @module
 */

/** Keeps the last `size` bytes pushed into it; cheap enough for every chunk of output. */
export class TailBuffer {
  #bytes: Uint8Array;
  #length = 0;

  /** @param size how many bytes to keep (0 keeps nothing) */
  constructor(readonly size: number) {
    this.#bytes = new Uint8Array(size);
  }

  /** Whether nothing was pushed yet (or only empty chunks). */
  get empty(): boolean {
    return this.#length === 0;
  }

  /** Appends `chunk`, forgetting what falls off the front. */
  push(chunk: Uint8Array): void {
    const size = this.size;
    if (chunk.length >= size) {
      this.#bytes.set(chunk.subarray(chunk.length - size));
      this.#length = size;
      return;
    }
    const keep = Math.min(this.#length, size - chunk.length);
    this.#bytes.copyWithin(0, this.#length - keep, this.#length);
    this.#bytes.set(chunk, keep);
    this.#length = keep + chunk.length;
  }

  /**
   * The kept bytes as text, starting at a line boundary when the buffer has filled up,
   * else (one long line) at a character: the rest of a UTF-8 character whose start
   * fell off the front is left out, not shown as U+FFFD.
   */
  text(): string {
    let bytes = this.#bytes.subarray(0, this.#length);
    if (this.#length === this.size) {
      const newline = bytes.indexOf(10);
      if (newline >= 0 && newline < bytes.length - 1) bytes = bytes.subarray(newline + 1);
      else bytes = bytes.subarray(_continuationBytes(bytes));
    }
    return new TextDecoder().decode(bytes);
  }
}

/** How many UTF-8 continuation bytes (at most 3, the rest of one character) `bytes` starts with. */
function _continuationBytes(bytes: Uint8Array): number {
  let count = 0;
  while (count < 3 && count < bytes.length && (bytes[count] & 0xc0) === 0x80) count++;
  return count;
}

/**
 * `opsd tail -f`: the end of a service's log file, then whatever is appended,
 * across rotations (a new file at the same path is read from its start).
 *
 * @module
 */

const _INTERVAL = 200;
const _TAIL_WINDOW = 64 * 1024;

/** The last `lines` lines of the file at `path` (empty when it does not exist). */
export async function lastLines(path: string, lines: number): Promise<Uint8Array> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Uint8Array();
    throw error;
  }
  try {
    const size = (await file.stat()).size;
    const start = Math.max(0, size - _TAIL_WINDOW);
    await file.seek(start, Deno.SeekMode.Start);
    const bytes = new Uint8Array(size - start);
    for (let offset = 0; offset < bytes.length;) {
      const count = await file.read(bytes.subarray(offset));
      if (count === null) break;
      offset += count;
    }
    let cut = bytes.length - (bytes.at(-1) === 10 ? 1 : 0);
    for (let n = 0; n < lines && cut > 0; n++) cut = bytes.lastIndexOf(10, cut - 1);
    return lines === 0 ? new Uint8Array() : bytes.subarray(cut < 0 ? 0 : cut + 1);
  } finally {
    file.close();
  }
}

/**
 * Yields what is appended to the file at `path` from its current end on,
 * following it to a new file when it is rotated or truncated, until `signal` aborts.
 */
export async function* followFile(path: string, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  let file: Deno.FsFile | null = null;
  let inode: number | null = null;
  let fromEnd = true;
  const buffer = new Uint8Array(64 * 1024);
  async function* drain(): AsyncGenerator<Uint8Array> {
    for (let count = await file!.read(buffer); count !== null; count = await file!.read(buffer)) {
      yield buffer.slice(0, count);
    }
  }
  try {
    while (!signal?.aborted) {
      if (file) yield* drain();
      const info = await Deno.stat(path).catch(() => null);
      const position = file ? await file.seek(0, Deno.SeekMode.Current) : 0;
      if (info && (info.ino !== inode || info.size < position)) {
        // Rotated (a new file: read it from its start) or truncated; what was appended
        // to the old file before it was renamed comes first.
        if (file) yield* drain();
        file?.close();
        file = await Deno.open(path);
        if (fromEnd) await file.seek(0, Deno.SeekMode.End);
        inode = info.ino;
      } else {
        await new Promise((resolve) => setTimeout(resolve, _INTERVAL));
      }
      fromEnd = false;
    }
  } finally {
    file?.close();
  }
}

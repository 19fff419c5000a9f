/**
 * `opsd tail -f`: the end of a service's log file, then whatever is appended,
 * across rotations, with no line lost that is still on disk.
 *
 * @module
 */

const _INTERVAL = 200;
/**
 * After a poll that found new lines: a fast writer fills `log-keep` small files in
 * a few polls of 200 ms (2000 lines of 100 bytes a second fill 10 × 4 KiB in 200 ms),
 * and a file rotated past the last one kept is gone before it is read.
 */
const _BUSY_INTERVAL = 25;
/** How much of the file is read at a time, looking back for the last lines. */
const _BLOCK = 64 * 1024;

/**
 * Leaves the open `file` positioned where its last `lines` lines begin (at its
 * start when it has fewer; at its end for 0), reading back from its end a block
 * at a time until it has seen them, however long they are.
 */
async function _seekLastLines(file: Deno.FsFile, lines: number): Promise<void> {
  const size = (await file.stat()).size;
  const block = new Uint8Array(_BLOCK);
  let found = 0;
  for (let end = lines === 0 ? 0 : size; end > 0;) {
    const start = Math.max(0, end - _BLOCK);
    const bytes = block.subarray(0, end - start);
    await file.seek(start, Deno.SeekMode.Start);
    await _readFull(file, bytes);
    for (
      let at = bytes.lastIndexOf(10);
      at >= 0;
      at = at > 0 ? bytes.lastIndexOf(10, at - 1) : -1
    ) {
      // The newline that ends the last line starts no line.
      if (start + at === size - 1 || ++found < lines) continue;
      await file.seek(start + at + 1, Deno.SeekMode.Start);
      return;
    }
    end = start;
  }
  await file.seek(lines === 0 ? size : 0, Deno.SeekMode.Start);
}

/** Reads into all of `bytes` from where `file` is (less only when the file ends first). */
async function _readFull(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) {
    const count = await file.read(bytes.subarray(offset));
    if (count === null) return;
    offset += count;
  }
}

/**
 * Yields the last `lines` lines of the file at `path` (default 0), then what is
 * appended to it, until `signal` aborts, from the same open file so that no line
 * falls between the two, losing no line that is still on disk when it is rotated as
 * `output/logfile.ts` rotates it (`FILE` -> `FILE.1` -> `FILE.2` ...): the file
 * being read is kept open and read to its end, then each newer generation in turn
 * from its start, then the new `FILE`. A truncated file is read again from its start.
 *
 * When `FILE` is not there at first, what appears is read from its start (as
 * `tail -F` reads a file that appears), and so are the generations rotated from it
 * meanwhile, oldest first: the generations there were before are not read.
 */
export async function* followFile(
  path: string,
  options: { lines?: number; signal?: AbortSignal } = {},
): AsyncGenerator<Uint8Array> {
  const { signal } = options;
  let file: Deno.FsFile | null = null;
  /** Once following has begun without `path`: the files its generations were then. */
  let earlier: Set<string> | null = null;
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (!signal?.aborted) {
      let moved = false;
      let read = false;
      if (!file && earlier) {
        file = await _oldestNew(path, earlier);
      } else if (!file) {
        // Looked at before `path` is opened, so that none written after it is taken as old.
        const seen = await _identities(path);
        file = await Deno.open(path).catch(_noneIfMissing);
        if (file) await _seekLastLines(file, options.lines ?? 0);
        else earlier = seen;
      }
      if (file) {
        for await (const chunk of _rest(file, buffer)) {
          yield chunk;
          read = true;
        }
        const ours = await file.stat();
        const generation = await _generationOf(path, ours);
        if (generation === 0) {
          if (ours.size < await file.seek(0, Deno.SeekMode.Current)) {
            await file.seek(0, Deno.SeekMode.Start); // truncated
            moved = true;
          }
        } else {
          // Rotated away (or removed): the writer closed it before renaming it, so what
          // was appended since it was read above is all there is; the generation after
          // it comes next.
          yield* _rest(file, buffer);
          const next = await _nextFile(path, ours, generation);
          if (next) {
            file.close();
            file = next;
            moved = true;
          }
        }
      }
      if (!moved) await _pause(read ? _BUSY_INTERVAL : _INTERVAL, signal);
    }
  } finally {
    file?.close();
  }
}

/** Waits `ms`, or less when `signal` aborts meanwhile. */
function _pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}

/** What is left to read of `file`, from where it is to its end. */
async function* _rest(file: Deno.FsFile, buffer: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let count = await file.read(buffer); count !== null; count = await file.read(buffer)) {
    yield buffer.slice(0, count);
  }
}

/** `FILE` itself for generation 0, `FILE.N` for generation N. */
function _generationPath(path: string, generation: number): string {
  return generation === 0 ? path : `${path}.${generation}`;
}

/**
 * The generations of `path` from `from` on, each with its stat (null: missing). A
 * rotation renames one name at a time, so one missing name is a rotation under way;
 * two in a row end the generations (a missing `FILE` itself does not count).
 */
async function* _generations(
  path: string,
  from = 0,
): AsyncGenerator<[number, Deno.FileInfo | null]> {
  for (let generation = from, missing = 0; missing < 2; generation++) {
    const info = await Deno.stat(_generationPath(path, generation)).catch(_noneIfMissing);
    yield [generation, info];
    missing = info || generation === 0 ? 0 : missing + 1;
  }
}

/**
 * Which generation of `path` the file described by `ours` now is (0: still `path`
 * itself), or -1 when it is none of them.
 */
async function _generationOf(path: string, ours: Deno.FileInfo): Promise<number> {
  for await (const [generation, info] of _generations(path)) {
    if (info && _same(info, ours)) return generation;
  }
  return -1;
}

/** The files `path` and its generations are now, by {@linkcode _identity}. */
async function _identities(path: string): Promise<Set<string>> {
  const identities = new Set<string>();
  for await (const [, info] of _generations(path)) if (info) identities.add(_identity(info));
  return identities;
}

/**
 * The oldest of `path` and its generations that is none of the files in `earlier`,
 * opened, or null when there is none yet. The files there were when following
 * began are never written again, and those after them are newer, each in turn.
 */
async function _oldestNew(path: string, earlier: Set<string>): Promise<Deno.FsFile | null> {
  for (;;) {
    let oldest: [number, Deno.FileInfo] | null = null;
    for await (const [generation, info] of _generations(path)) {
      if (info && !earlier.has(_identity(info))) oldest = [generation, info];
    }
    if (!oldest) return null;
    const file = await Deno.open(_generationPath(path, oldest[0])).catch(_noneIfMissing);
    if (file && _same(await file.stat(), oldest[1])) return file;
    file?.close(); // A rotation moved the names meanwhile: look again.
  }
}

/**
 * The file written after ours (now generation `generation`, -1: gone), opened, or
 * null when it is not there yet or a rotation moved the names meanwhile (try again).
 */
async function _nextFile(
  path: string,
  ours: Deno.FileInfo,
  generation: number,
): Promise<Deno.FsFile | null> {
  if (generation < 0) {
    // Ours went past the last kept generation (or was removed): the oldest one left
    // that was written after it comes next.
    let next = 0;
    for await (const [n, info] of _generations(path, 1)) {
      if (info && (info.mtime?.getTime() ?? 0) >= (ours.mtime?.getTime() ?? 0)) next = n;
    }
    return await Deno.open(_generationPath(path, next)).catch(_noneIfMissing);
  }
  const next = await Deno.open(_generationPath(path, generation - 1)).catch(_noneIfMissing);
  if (!next) return null;
  // Names only ever move up, older first: if ours still has its name, the one below
  // it was not renamed while we opened it.
  const still = await Deno.stat(_generationPath(path, generation)).catch(_noneIfMissing);
  if (still && _same(still, ours)) return next;
  next.close();
  return null;
}

/** Whether two stats describe the same file. */
function _same(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * A file's identity across renames: its device and inode, and its mtime, so that a
 * new file given the inode of one removed meanwhile is not taken for it.
 */
function _identity(info: Deno.FileInfo): string {
  return `${info.dev}:${info.ino}:${info.mtime?.getTime()}`;
}

function _noneIfMissing(error: unknown): null {
  if (error instanceof Deno.errors.NotFound) return null;
  throw error;
}

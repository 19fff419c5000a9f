import assert from "node:assert/strict";
import { checkLogFile, RotatingLogFile } from "../../lib/supervise/output/logfile.ts";
import { MAX_LINE, PIPE_BUFFER_SIZE, readPipe } from "../../lib/supervise/output/pipe.ts";
import { StampMemory } from "../../lib/supervise/output/stamp.ts";
import { TailBuffer } from "../../lib/supervise/output/tail.ts";
import { BoundedWriter } from "../../lib/supervise/output/writer.ts";
import { O } from "../../lib/sys/constants.ts";
import { bytesUnread, close, open, pipe2, umask, write } from "../../lib/sys/libc.ts";
import { runWithFileSizeLimit, tempDir, waitFor } from "../fixtures/mod.ts";

const encoder = new TextEncoder(), decoder = new TextDecoder();

/** A StampMemory with one input of `inputSize` bytes and one output block of `blockSize`. */
function stampMemory(inputSize: number, blockSize: number): StampMemory {
  return new StampMemory({ inputs: 1, inputSize, blocks: 1, blockSize });
}

/** `text` stamped through a StampMemory, a block at a time, as a log file's writer does. */
function stamped(text: string, prefix: string, blockSize = 1 << 20): string {
  const bytes = encoder.encode(text);
  const memory = stampMemory(bytes.length, blockSize);
  memory.inputs[0].set(bytes);
  const [block] = memory.blocks;
  let out = "";
  for (let lines = memory.inputs[0]; lines.length > 0;) {
    const { read, written } = memory.stamp(lines, encoder.encode(prefix), block, 0, block.length);
    if (read === 0) throw new RangeError("a line that does not fit, or no final newline");
    out += decoder.decode(block.subarray(0, written));
    lines = lines.subarray(read);
  }
  return out;
}

Deno.test("StampMemory.stamp puts the prefix before every line, whatever the line lengths", () => {
  assert.equal(stamped("a\n\nbc\n", "T "), "T a\nT \nT bc\n");
  // Lines around the module's 16-byte steps, and a long prefix.
  const prefix = "2025-11-21T08:06:02.123Z out ";
  const lines = Array.from({ length: 40 }, (_, n) => "x".repeat(n) + "\n").join("");
  const expected = lines.split("\n").slice(0, -1).map((line) => `${prefix}${line}\n`).join("");
  assert.equal(stamped(lines, prefix), expected);
  assert.throws(() => stamped("no newline", "T "), /no final newline/);
});

Deno.test("StampMemory.stamp stops before a line that does not fit, and never writes at or past limit", () => {
  const memory = stampMemory(64, 256);
  const text = encoder.encode("0123456789\n".repeat(5));
  memory.inputs[0].set(text);
  const [block] = memory.blocks;
  block.fill(0xff);
  const prefix = encoder.encode("T ");
  // From 3, each line takes 13 bytes, and starting one needs 48 bytes of room: the fourth does not fit.
  const { read, written } = memory.stamp(
    memory.inputs[0].subarray(0, text.length),
    prefix,
    block,
    3,
    3 + 80,
  );
  assert.equal(decoder.decode(block.subarray(3, 3 + written)), "T 0123456789\n".repeat(3));
  assert.equal(read, 33);
  assert.ok(block.subarray(3 + 80).every((byte) => byte === 0xff), "nothing at or past limit");
  assert.throws(() => memory.stamp(text, prefix, block, 0, 10), /outside this memory/);
});

Deno.test("StampMemory.stamp handles more than a block holds (3 MiB of short lines)", () => {
  const line = "0123456789abcdef\n";
  const text = line.repeat((3 << 20) / line.length);
  assert.equal(stamped(text, "12:00:00 "), `12:00:00 ${line}`.repeat(text.length / line.length));
});

Deno.test("StampMemory.stamp agrees with a plain loop on random lines, prefixes and sizes", () => {
  // A small deterministic generator, so that a failure can be repeated.
  let seed = 12345;
  const random = (below: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % below;
  for (let round = 0; round < 40; round++) {
    const prefix = "p".repeat(random(33));
    // Mostly short lines around the module's 16-byte steps, some empty, a few long.
    const lines = Array.from({ length: 1 + random(400) }, () => {
      const kind = random(10);
      const length = kind === 0 ? 0 : kind === 1 ? random(200_000) : random(40);
      return String.fromCharCode(97 + random(26)).repeat(length) + "\n";
    });
    const text = lines.join("");
    assert.equal(stamped(text, prefix), lines.map((line) => prefix + line).join(""));
  }
});

Deno.test("StampMemory.stamp fits lines of up to a block, and floods of empty lines", () => {
  const longest = "y".repeat((1 << 20) - 1) + "\n";
  const prefix = "2025-11-21T08:06:02.123Z err ";
  assert.equal(stamped(longest + "z\n", prefix, 2 << 20), `${prefix}${longest}${prefix}z\n`);
  // 1 MiB of empty lines stamps to 31 MiB: many blocks.
  const empties = "\n".repeat(1 << 20);
  assert.equal(stamped(empties, prefix), `${prefix}\n`.repeat(1 << 20));
});

Deno.test("TailBuffer keeps the last bytes, starting at a line once full", () => {
  const tail = new TailBuffer(10);
  tail.push(encoder.encode("abc\n"));
  assert.equal(tail.text(), "abc\n");
  tail.push(encoder.encode("defgh\nij"));
  assert.equal(tail.text(), "defgh\nij", "full: starts at a line");
  tail.push(encoder.encode("0123456789XYZ"));
  assert.equal(tail.text(), "3456789XYZ");
  assert.equal(new TailBuffer(0).text(), "");
});

Deno.test("TailBuffer that cut a UTF-8 character in the middle starts at the next one", () => {
  const tail = new TailBuffer(9);
  tail.push(encoder.encode("x€€€€\n")); // 14 bytes: the last 9 start inside the second €
  assert.equal(tail.text(), "€€\n");
  tail.push(encoder.encode("€€€€😀")); // 16 bytes: the last 9 start inside the third €
  assert.equal(tail.text(), "€😀");
  tail.push(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, ...encoder.encode("abcd")]));
  assert.equal(tail.text(), "\ufffd\ufffdabcd", "no more than one character's rest is left out");
});

/** A sink whose writes wait until `release` is called, recording what they wrote. */
function gatedSink() {
  const written: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const sink = {
    async write(bytes: Uint8Array) {
      await gate;
      written.push(decoder.decode(bytes));
      return bytes.length;
    },
  };
  return { sink, written, release };
}

Deno.test("BoundedWriter drops and counts what a slow sink cannot take, then marks the loss", async () => {
  const { sink, written, release } = gatedSink();
  const writer = new BoundedWriter(sink, {
    capacity: 10,
    marker: (bytes) => encoder.encode(`[dropped ${bytes}]\n`),
  });
  assert.equal(writer.push(encoder.encode("one\n")), 0);
  assert.equal(writer.push(encoder.encode("two\n")), 0);
  assert.equal(writer.push(encoder.encode("x\nthree\n")), 6, "the whole lines that fit are kept");
  assert.equal(writer.push(encoder.encode("y\n")), 2, "full: dropped at once");
  assert.equal(writer.dropped, 8);
  release();
  await writer.flush();
  assert.equal(writer.push(encoder.encode("four\n")), 0);
  await writer.flush();
  assert.equal(written.join(""), "one\ntwo\nx\n[dropped 8]\nfour\n");
});

Deno.test("BoundedWriter counts a failed write as dropped and reports the error", async () => {
  const errors: string[] = [];
  const writer = new BoundedWriter(
    { write: () => Promise.reject(new Error("ENOSPC")) },
    { capacity: 100, onError: (error) => errors.push(error.message) },
  );
  writer.push(encoder.encode("lost\n"));
  await writer.flush();
  assert.equal(writer.dropped, 5);
  assert.deepEqual(errors, ["ENOSPC"]);
});

Deno.test("BoundedWriter tells each caller how many of its bytes a failed write lost", async () => {
  const written: string[] = [];
  let fail = false;
  const writer = new BoundedWriter({
    write: (bytes) => {
      if (fail) return Promise.reject(new Error("EPIPE"));
      written.push(decoder.decode(bytes));
      return Promise.resolve(bytes.length);
    },
  }, { capacity: 1 << 22 });
  const lost = { a: 0, b: 0 };
  const onA = (bytes: number) => lost.a += bytes, onB = (bytes: number) => lost.b += bytes;
  writer.push(encoder.encode("a1\n"), onA);
  await writer.flush();
  fail = true;
  // Both callers' lines share a chunk; a line longer than a chunk goes out on its own.
  writer.push(encoder.encode("a2\n"), onA);
  writer.push(encoder.encode("bb2\n"), onB);
  writer.push(encoder.encode("b".repeat(2 << 20) + "\n"), onB);
  writer.push(encoder.encode("unowned\n"));
  await writer.flush();
  assert.deepEqual(written, ["a1\n"]);
  assert.deepEqual(lost, { a: 3, b: 4 + (2 << 20) + 1 });
  assert.equal(writer.dropped, 3 + 4 + (2 << 20) + 1 + 8);
});

Deno.test("BoundedWriter.pushStamped stamps lines into its memory's blocks, drops what exceeds capacity and marks it", async () => {
  const { sink, written, release } = gatedSink();
  const memory = new StampMemory({ inputs: 1, inputSize: 4096, blocks: 2, blockSize: 64 });
  const writer = new BoundedWriter(sink, {
    capacity: 64,
    stamp: memory,
    marker: (bytes) => encoder.encode(`[dropped ${bytes}]\n`),
  });
  const input = memory.inputs[0];
  const lines = (text: string) => {
    input.set(encoder.encode(text));
    return input.subarray(0, text.length);
  };
  const prefix = encoder.encode("T ");
  assert.equal(writer.pushStamped(lines("one\n"), prefix), 0);
  writer.push(encoder.encode("= an event\n"));
  // Eight lines of 5 stamped bytes: those that fit below 64 (with 48 of room to start one) stay.
  const lost = writer.pushStamped(lines("abc\n".repeat(8)), prefix);
  assert.ok(lost > 0 && lost % 6 === 0, `whole stamped lines dropped: ${lost}`);
  assert.equal(writer.dropped, lost);
  assert.throws(() => writer.pushStamped(encoder.encode("x\n"), prefix), /outside this memory/);
  release();
  await writer.flush();
  assert.equal(writer.pushStamped(lines("two\n"), prefix), 0);
  await writer.flush();
  const kept = 8 - lost / 6;
  assert.equal(
    written.join(""),
    `T one\n= an event\n${"T abc\n".repeat(kept)}[dropped ${lost}]\nT two\n`,
  );
});

Deno.test("BoundedWriter gives the memory of the blocks a burst filled back, beyond a few kept warm", async () => {
  const { sink, written, release } = gatedSink();
  const memory = new StampMemory({ inputs: 1, inputSize: 1 << 16, blocks: 10, blockSize: 1 << 16 });
  const writer = new BoundedWriter(sink, { capacity: 9 << 16, stamp: memory });
  const line = "z".repeat(1000) + "\n";
  const input = memory.inputs[0];
  for (let n = 0; n < 8; n++) {
    input.set(encoder.encode(line.repeat(60)));
    assert.equal(writer.pushStamped(input.subarray(0, 60 * line.length), encoder.encode("T ")), 0);
  }
  const used = memory.blocks.filter((block) => block[0] !== 0).length;
  assert.ok(used >= 8, `the burst filled ${used} blocks`);
  release();
  await writer.flush();
  assert.equal(written.join("").length, 8 * 60 * (line.length + 2));
  const warm = memory.blocks.filter((block) => block[0] !== 0).length;
  assert.ok(warm > 0 && warm <= 4, `${warm} blocks keep their bytes; the others read as zeros`);
});

Deno.test("BoundedWriter.pushStamped without a StampMemory is refused", () => {
  const writer = new BoundedWriter({ write: (bytes) => Promise.resolve(bytes.length) }, {
    capacity: 100,
  });
  assert.throws(
    () => writer.pushStamped(encoder.encode("a\n"), encoder.encode("T ")),
    /StampMemory/,
  );
});

Deno.test("BoundedWriter.behind: null while it keeps up, else a promise that resolves when the next write ends", async () => {
  const { sink, written, release } = gatedSink();
  const writer = new BoundedWriter(sink, { capacity: 64 << 20 });
  writer.push(encoder.encode("small\n"));
  assert.equal(writer.behind(), null, "a few bytes waiting: not behind");
  const line = "x".repeat(1023) + "\n";
  for (let n = 0; n < 5 * 1024; n++) writer.push(encoder.encode(line));
  const behind = writer.behind();
  assert.ok(behind, "5 MiB waiting: behind");
  let progressed = false;
  behind.then(() => progressed = true);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(progressed, false, "no write ended yet");
  release();
  await behind;
  await writer.flush();
  assert.equal(writer.behind(), null);
  assert.equal(written.join("").length, 6 + 5 * 1024 * 1024);
  // A small capacity: behind from half of it.
  const small = gatedSink();
  const smaller = new BoundedWriter(small.sink, { capacity: 1 << 16 });
  smaller.push(encoder.encode(line.repeat(30)));
  assert.equal(smaller.behind(), null, "30 KiB of 64: keeping up");
  smaller.push(encoder.encode(line.repeat(4)));
  assert.ok(smaller.behind(), "34 KiB of 64: behind");
  small.release();
  await smaller.flush();
});

Deno.test("BoundedWriter whose write fails after some bytes got in counts, and tells its callers, only the rest", async () => {
  let calls = 0;
  const writer = new BoundedWriter({
    write: (bytes) => {
      calls++;
      if (calls === 1) return Promise.resolve(bytes.length);
      if (calls === 2) return Promise.resolve(5); // "a1\nxx" got in
      return Promise.reject(new Error("EIO"));
    },
  }, { capacity: 1 << 20 });
  const lost = { a: 0, b: 0 };
  const onA = (bytes: number) => lost.a += bytes, onB = (bytes: number) => lost.b += bytes;
  // One chunk: A's 3 bytes, 8 of nobody's, B's 4; the write in flight takes the first push alone.
  writer.push(encoder.encode("a0\n"), onA);
  writer.push(encoder.encode("a1\n"), onA);
  writer.push(encoder.encode("xxxxxxx\n"));
  writer.push(encoder.encode("bb2\n"), onB);
  await writer.flush();
  assert.equal(calls, 3, "the first chunk got in; the second failed after 5 bytes");
  assert.equal(writer.dropped, 10);
  assert.deepEqual(lost, { a: 0, b: 4 }, "the last 10 bytes: B's 4 and 6 of nobody's");
});

Deno.test("RotatingLogFile leaves no torn line when a write fails midway (a full disk)", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/current`;
  const fixture = new URL("../fixtures/logfile_fsize.ts", import.meta.url).pathname;
  // A 1000-byte file size limit: the fourth 300-byte batch gets 100 bytes in, then fails.
  const run = await runWithFileSizeLimit(1000, [Deno.execPath(), "run", "-A", fixture, path]);
  assert.ok(run.success, decoder.decode(run.stderr));
  const result = JSON.parse(decoder.decode(run.stdout));
  assert.match(result.failed, /too large/);
  assert.equal(result.size, 900, "the partial batch was cut off again");
  const text = await Deno.readTextFile(path);
  assert.ok(text.split("\n").slice(0, -1).every((line) => line.length === 99), "whole lines only");
});

Deno.test("BoundedWriter marks a loss from a failed write with every byte lost, where it happened", async () => {
  const written: string[] = [];
  let writes = 0;
  const sink = {
    write(bytes: Uint8Array) {
      // The second write fails (a disk that was full for a moment).
      if (++writes === 2) return Promise.reject(new Error("ENOSPC"));
      written.push(decoder.decode(bytes));
      return Promise.resolve(bytes.length);
    },
  };
  const writer = new BoundedWriter(sink, {
    capacity: 100,
    marker: (bytes) => encoder.encode(`[dropped ${bytes}]\n`),
  });
  writer.push(encoder.encode("one\n"));
  writer.push(encoder.encode("two\n"));
  await writer.flush();
  writer.push(encoder.encode("three\n"));
  await writer.flush();
  assert.equal(writer.dropped, 4);
  assert.equal(written.join(""), "one\n[dropped 4]\nthree\n");
});

Deno.test("BoundedWriter marks each loss where it happened: a failed write, then a full queue", async () => {
  const written: string[] = [];
  let writes = 0;
  const sink = {
    write(bytes: Uint8Array) {
      if (++writes === 1) return Promise.reject(new Error("ENOSPC"));
      written.push(decoder.decode(bytes));
      return Promise.resolve(bytes.length);
    },
  };
  const writer = new BoundedWriter(sink, {
    capacity: 12,
    marker: (bytes) => encoder.encode(`[lost ${bytes}]\n`),
  });
  for (const text of ["A1\n", "B1\n", "C1\n", "D1\nD2\nD3\n", "E1\n"]) {
    writer.push(encoder.encode(text));
  }
  await writer.flush();
  writer.push(encoder.encode("F1\n"));
  await writer.flush();
  assert.equal(written.join(""), "[lost 3]\nB1\nC1\nD1\n[lost 9]\nF1\n");
  assert.equal(writer.dropped, 12);
});

Deno.test("RotatingLogFile rotates at line boundaries and keeps N old files", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/log/current`;
  const log = new RotatingLogFile({ path, maxSize: 20, keep: 2 });
  for (let n = 0; n < 10; n++) await log.write(encoder.encode(`line ${n}\n`)); // 7 bytes each
  await log.write(encoder.encode("a\nb\nc\n"));
  log.close();
  const files = [...Deno.readDirSync(`${dir.path}/log`)].map((e) => e.name).sort();
  assert.deepEqual(files, ["current", "current.1", "current.2"]);
  for (const name of files) {
    const text = await Deno.readTextFile(`${dir.path}/log/${name}`);
    assert.ok(text.length <= 20, `${name} within the size limit`);
    assert.ok(text.endsWith("\n") && !text.includes("\n\n"), `${name} holds whole lines`);
  }
  // 7-byte lines, 20-byte files: two lines each; the last write fits exactly.
  assert.equal(await Deno.readTextFile(`${dir.path}/log/current`), "line 8\nline 9\na\nb\nc\n");
  assert.equal(await Deno.readTextFile(`${dir.path}/log/current.1`), "line 6\nline 7\n");
  assert.equal(await Deno.readTextFile(`${dir.path}/log/current.2`), "line 4\nline 5\n");
});

Deno.test("RotatingLogFile writes to a file that is not a regular file, never renaming it", async () => {
  await using dir = await tempDir();
  // A FIFO stands for /dev/null or /dev/stdout: renaming it would break it for everyone.
  const fifo = `${dir.path}/fifo`;
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.ok(made.success);
  const log = new RotatingLogFile({ path: fifo, maxSize: 10, keep: 1 });
  // Opening a FIFO waits for the other side: open both at once.
  const writing = log.write(encoder.encode("more than ten bytes\nand more\n"));
  const input = await Deno.open(fifo, { read: true });
  await writing;
  log.close();
  assert.equal(
    decoder.decode(await new Response(input.readable).arrayBuffer()),
    "more than ten bytes\nand more\n",
  );
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["fifo"]);
});

Deno.test("readPipe hands over whole lines, joins split ones, and ends a last partial line", async () => {
  const [reader, writer] = pipe2();
  const lines: string[] = [];
  const bytes: string[] = [];
  const reading = readPipe(reader, {
    onBytes: (chunk) => bytes.push(decoder.decode(chunk)),
    onLines: (chunk) => lines.push(decoder.decode(chunk)),
  });
  write(writer, encoder.encode("one\ntw"));
  await new Promise((resolve) => setTimeout(resolve, 50));
  write(writer, encoder.encode("o\nthree"));
  close(writer);
  await reading.done;
  assert.equal(lines.join(""), "one\ntwo\nthree\n");
  assert.ok(lines.every((chunk) => chunk.endsWith("\n")));
  assert.equal(bytes.join(""), "one\ntwo\nthree\n", "the bytes get the same newline");
});

Deno.test("PipeReader.settle waits until the pipe is empty and its lines handed over, then ends a partial line", async () => {
  const [reader, writer] = pipe2();
  const lines: string[] = [];
  const bytes: string[] = [];
  const reading = readPipe(reader, {
    onBytes: (chunk) => bytes.push(decoder.decode(chunk)),
    onLines: (chunk) => lines.push(decoder.decode(chunk)),
  });
  try {
    // Written at once, before settle: settle returns only once it has all been handed over.
    write(writer, encoder.encode("one\ntw"));
    write(writer, encoder.encode("o\npart"));
    const started = performance.now();
    assert.equal(await reading.settle(1000), true);
    assert.ok(performance.now() - started < 100, "quick once the pipe is empty");
    assert.deepEqual(lines.join(""), "one\ntwo\npart\n");
    assert.deepEqual(bytes.join(""), "one\ntwo\npart\n", "the bytes get the same newline");
    // The pipe stays open: what comes next is lines of its own.
    write(writer, encoder.encode("next\nlast"));
    assert.equal(await reading.settle(1000), true);
    assert.equal(lines.join(""), "one\ntwo\npart\nnext\nlast\n");
    assert.equal(await reading.settle(1000), true, "nothing to end: nothing handed over");
    assert.equal(lines.join(""), "one\ntwo\npart\nnext\nlast\n");
    assert.equal(bytes.join(""), "one\ntwo\npart\nnext\nlast\n");
    // A line cut at MAX_LINE for onLines is still a partial line of the bytes: ended here.
    write(writer, encoder.encode("x".repeat(MAX_LINE)));
    assert.equal(await reading.settle(1000), true);
    assert.equal(bytes.join(""), lines.join(""), "the same line ends in both");
  } finally {
    close(writer);
    await reading.done;
  }
  assert.equal(await reading.settle(1000), true, "after end of file: nothing to wait for");
});

Deno.test("readPipe reads into the buffer it is given: the lines handed over are views of it", async () => {
  const [reader, writer] = pipe2();
  const memory = new StampMemory({
    inputs: 1,
    inputSize: PIPE_BUFFER_SIZE,
    blocks: 1,
    blockSize: 64,
  });
  const views: boolean[] = [];
  const lines: string[] = [];
  const reading = readPipe(reader, {
    onLines: (chunk) => {
      views.push(memory.holds(chunk));
      lines.push(decoder.decode(chunk));
    },
  }, { buffer: memory.inputs[0] });
  write(writer, encoder.encode("one\ntw"));
  await new Promise((resolve) => setTimeout(resolve, 30));
  write(writer, encoder.encode("o\n"));
  close(writer);
  await reading.done;
  assert.equal(lines.join(""), "one\ntwo\n");
  assert.ok(views.length > 0 && views.every(Boolean));
  assert.throws(
    () => readPipe(pipe2()[0], { onLines() {} }, { buffer: new Uint8Array(16) }),
    /needs/,
  );
});

Deno.test("readPipe leaves output in the pipe while its destination is behind and progressing, and reads on once it stalls", async () => {
  const [reader, writer] = pipe2();
  let progress = Promise.withResolvers<void>();
  let behind = true;
  let read = 0;
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  // A hold limit of 300 ms (5 in use), so that timers late on a busy machine do not count as stalls.
  const reading = readPipe(reader, {
    onLines: (chunk) => read += chunk.length,
    behind: () => behind ? progress.promise : null,
  }, { holdLimit: 300 });
  try {
    write(writer, encoder.encode("held\n"));
    for (let n = 0; n < 10; n++) {
      await pause(10);
      progress.resolve();
      progress = Promise.withResolvers<void>();
    }
    assert.equal(read, 0, "left in the pipe while the destination makes progress");
    assert.equal(bytesUnread(reader), 5);
    const stalled = performance.now();
    await waitFor("the stalled destination's line read", () => read === 5);
    assert.ok(performance.now() - stalled >= 250, "read once no progress came for the hold limit");
    write(writer, encoder.encode("more\n"));
    await waitFor("the next line read at once: a stalled destination is not waited for", () => {
      return read === 10;
    });
    // Progress again: held again.
    progress.resolve();
    progress = Promise.withResolvers<void>();
    await pause(20);
    write(writer, encoder.encode("again\n"));
    await pause(50);
    assert.equal(read, 10, "held again once the destination made progress");
    behind = false;
    progress.resolve();
    await waitFor("caught up: read", () => read === 16);
  } finally {
    close(writer);
    await reading.done;
  }
});

Deno.test("RotatingLogFile opens FILE anew when it was removed by hand, or with its directory (never the ones above); follows it moved", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/log/current`;
  const log = new RotatingLogFile({ path, maxSize: 1000, keep: 2 });
  try {
    await log.write(encoder.encode("one\n"));
    await Deno.remove(path); // rm current: the lines would go into a deleted file
    await log.write(encoder.encode("two\n"));
    assert.equal(await Deno.readTextFile(path), "two\n");
    await Deno.remove(`${dir.path}/log`, { recursive: true }); // rm -rf log
    await log.write(encoder.encode("three\n"));
    assert.equal(await Deno.readTextFile(path), "three\n");
    // Moved (with its directory, by a deploy): written on, as the state directory is followed.
    await Deno.rename(`${dir.path}/log`, `${dir.path}/log.old`);
    await log.write(encoder.encode("four\n"));
    assert.equal(await Deno.readTextFile(`${dir.path}/log.old/current`), "three\nfour\n");
    assert.equal(await Deno.stat(`${dir.path}/log`).catch(() => null), null);
    // Removed with the directory above it (a deploy's rm -rf): nothing is made there.
    await Deno.remove(`${dir.path}/log.old`, { recursive: true });
    await Deno.rename(dir.path, `${dir.path}.gone`);
    try {
      await assert.rejects(log.write(encoder.encode("five\n")), Deno.errors.NotFound);
      assert.equal(await Deno.stat(dir.path).catch(() => null), null);
    } finally {
      await Deno.rename(`${dir.path}.gone`, dir.path);
    }
  } finally {
    log.close();
  }
});

Deno.test("RotatingLogFile whose directories could not be made at the start (a full disk) makes them on a later write, never one above that existed", async () => {
  await using dir = await tempDir();
  // checkLogFile failed (ENOSPC) before making log/main: the supervisor went on without them.
  const path = `${dir.path}/svc/log/main/current`;
  Deno.mkdirSync(`${dir.path}/svc`);
  const log = new RotatingLogFile({ path, maxSize: 1000, keep: 2 });
  try {
    await log.write(encoder.encode("one\n"));
    assert.equal(await Deno.readTextFile(path), "one\n");
    // The service directory, which existed at the start, removed (a deploy): not made again.
    log.close();
    await Deno.remove(`${dir.path}/svc`, { recursive: true });
    await assert.rejects(log.write(encoder.encode("two\n")), Deno.errors.NotFound);
    assert.equal(await Deno.stat(`${dir.path}/svc`).catch(() => null), null);
  } finally {
    log.close();
  }
});

Deno.test("RotatingLogFile rotates a file truncated by hand by its new size, and removes generations past log-keep", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/current`;
  // Generations an earlier, larger log-keep left.
  for (const n of [1, 2, 3, 4]) await Deno.writeTextFile(`${path}.${n}`, `old ${n}\n`);
  const log = new RotatingLogFile({ path, maxSize: 20, keep: 2 });
  try {
    await log.write(encoder.encode("line 1\nline 2\n")); // 14 bytes
    await Deno.truncate(path, 0); // : > current
    await log.write(encoder.encode("line 3\nline 4\n")); // fits: 14 of 20 bytes
    assert.equal(await Deno.readTextFile(path), "line 3\nline 4\n");
    assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name).sort(), [
      "current",
      "current.1",
      "current.2",
      "current.3",
      "current.4",
    ]);
    await log.write(encoder.encode("line 5\n")); // rotates
    assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name).sort(), [
      "current",
      "current.1",
      "current.2",
    ]);
    assert.equal(await Deno.readTextFile(`${path}.1`), "line 3\nline 4\n");
    assert.equal(await Deno.readTextFile(`${path}.2`), "old 1\n");
  } finally {
    log.close();
  }
});

Deno.test("RotatingLogFile through a held directory follows it when moved, never writing into a new one at its path", async () => {
  await using dir = await tempDir();
  const state = `${dir.path}/svc/supervise`;
  await Deno.mkdir(state, { recursive: true });
  const held = open(state, O.RDONLY | O.DIRECTORY | O.CLOEXEC);
  const log = new RotatingLogFile({
    path: `${state}/current`,
    dir: `/proc/self/fd/${held}`,
    maxSize: 20,
    keep: 1,
  });
  try {
    await log.write(encoder.encode("before 1\n"));
    // A deploy: the service directory moved away, a new one made at its path.
    await Deno.rename(`${dir.path}/svc`, `${dir.path}/svc.old`);
    await Deno.mkdir(state, { recursive: true });
    await log.write(encoder.encode("after 1\nafter 2\n")); // 9 + 8 fit in 20, then it rotates
    await log.write(encoder.encode("after 3\n"));
    assert.deepEqual([...Deno.readDirSync(state)], [], "nothing in the new directory");
    const old = `${dir.path}/svc.old/supervise`;
    assert.equal(await Deno.readTextFile(`${old}/current.1`), "before 1\nafter 1\n");
    assert.equal(await Deno.readTextFile(`${old}/current`), "after 2\nafter 3\n");
  } finally {
    log.close();
    close(held);
  }
});

/**
 * A RotatingLogFile rotating at 20 bytes (one old file kept) in a log directory
 * `immutable(true)` makes one not even root may rename in (chattr +i: false where
 * chattr does not work, as without root or ext4).
 */
async function logInImmutableDir() {
  const dir = await tempDir();
  const path = `${dir.path}/log/current`;
  const log = new RotatingLogFile({ path, maxSize: 20, keep: 1 });
  const immutable = async (on: boolean) => {
    const chattr = new Deno.Command("chattr", {
      args: [on ? "+i" : "-i", `${dir.path}/log`],
      stderr: "null",
    });
    return (await chattr.output()).success;
  };
  return {
    path,
    log,
    immutable,
    async [Symbol.asyncDispose]() {
      await immutable(false);
      log.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

Deno.test("RotatingLogFile that cannot rotate (a directory that may not be written) says so, and rotates once it may", async () => {
  await using setup = await logInImmutableDir();
  const { path, log, immutable } = setup;
  await log.write(encoder.encode("line 1\nline 2\n"));
  if (!await immutable(true)) return;
  await assert.rejects(
    log.write(encoder.encode("line 3\n")),
    /^Error: cannot rotate it: EPERM \(operation not permitted\)$/,
  );
  await immutable(false);
  await log.write(encoder.encode("line 4\n"));
  assert.equal(await Deno.readTextFile(`${path}.1`), "line 1\nline 2\n");
  assert.equal(await Deno.readTextFile(path), "line 4\n");
});

Deno.test("RotatingLogFile that cannot rotate midway through a write keeps what got in: only the rest is counted lost", async () => {
  await using setup = await logInImmutableDir();
  const { path, log, immutable } = setup;
  await log.write(encoder.encode("line 1\n"));
  if (!await immutable(true)) return;
  // line 2 fits; line 3 needs a rotation, which fails.
  const errors: string[] = [];
  const writer = new BoundedWriter(log, {
    capacity: 1000,
    onError: (error) => errors.push(error.message),
  });
  writer.push(encoder.encode("line 2\nline 3\n"));
  await writer.flush();
  assert.equal(writer.dropped, 7, "line 3 only");
  assert.deepEqual(errors, ["cannot rotate it: EPERM (operation not permitted)"]);
  assert.equal(await Deno.readTextFile(path), "line 1\nline 2\n");
  // Alone, a write none of which got in fails.
  await assert.rejects(log.write(encoder.encode("line 3\n")), /cannot rotate it/);
});

Deno.test("log directories opsd makes are 0755 even under umask 000: nobody else may put a symlink there", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/log/main/current`;
  const previous = umask(0);
  try {
    checkLogFile(path);
  } finally {
    umask(previous);
  }
  assert.equal(Deno.statSync(`${dir.path}/log/main`).mode! & 0o777, 0o755);
  assert.equal(Deno.statSync(`${dir.path}/log`).mode! & 0o777, 0o755);
  // Made again when removed while the file is open, with the same mode.
  const log = new RotatingLogFile({ path, maxSize: 1 << 20, keep: 2 });
  try {
    await log.write(new TextEncoder().encode("one\n"));
    Deno.removeSync(`${dir.path}/log/main`, { recursive: true });
    umask(0);
    try {
      await log.write(new TextEncoder().encode("two\n"));
    } finally {
      umask(previous);
    }
    assert.equal(Deno.statSync(`${dir.path}/log/main`).mode! & 0o777, 0o755);
    assert.equal(Deno.readTextFileSync(path), "two\n");
  } finally {
    log.close();
  }
});

import assert from "node:assert/strict";
import { PIPE_TEXT_MAX, readPipeText } from "../../lib/process/pipe_text.ts";
import { close, dup, pipe2, write } from "../../lib/sys/libc.ts";
import { FIXTURES } from "../fixtures/mod.ts";
import { sanitizedTest } from "../fixtures/sanitized.ts";

const encoder = new TextEncoder();

/** Writes `text` on the pipe `fd` after `ms` milliseconds, while the reader waits. */
function writeLater(fd: number, text: string | Uint8Array<ArrayBuffer>, ms: number): Promise<void> {
  const bytes = typeof text === "string" ? encoder.encode(text) : text;
  return new Promise((resolve) => setTimeout(() => resolve(void write(fd, bytes)), ms));
}

sanitizedTest("readPipeText reads to end of file, or to the first newline", async () => {
  const [reader, writer] = pipe2();
  write(writer, encoder.encode("one\ntwo\n"));
  close(writer);
  assert.deepEqual(await readPipeText(reader), { text: "one\ntwo\n", end: "eof" });
  const [lineReader, lineWriter] = pipe2();
  write(lineWriter, encoder.encode("ready\nmore"));
  assert.deepEqual(await readPipeText(lineReader, { line: true }), { text: "ready", end: "line" });
  close(lineWriter);
});

sanitizedTest(
  "readPipeText waits for a line written in pieces, a character split too",
  async () => {
    const [reader, writer] = pipe2();
    const reading = readPipeText(reader, { line: true, timeout: 5000 });
    const e = encoder.encode("é");
    await writeLater(writer, "rea", 20);
    await writeLater(writer, new Uint8Array([e[0]]), 20);
    await writeLater(writer, new Uint8Array([e[1], ...encoder.encode("dy\nmore\n")]), 20);
    assert.deepEqual(await reading, { text: "reaédy", end: "line" });
    close(writer);
  },
);

sanitizedTest("readPipeText sees end of file only once every writer has closed", async () => {
  const [reader, writer] = pipe2();
  const other = dup(writer);
  const reading = readPipeText(reader, { line: true });
  await writeLater(writer, "no newline", 20);
  close(writer);
  let settled = false;
  reading.finally(() => settled = true);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(settled, false, "a writer is still open");
  close(other);
  assert.deepEqual(await reading, { text: "no newline", end: "eof" });
});

sanitizedTest(
  "readPipeText times out on time when the writer neither writes nor closes",
  async () => {
    const [reader, writer] = pipe2();
    const started = performance.now();
    assert.deepEqual(await readPipeText(reader, { timeout: 100 }), { text: "", end: "timeout" });
    const took = performance.now() - started;
    assert.ok(took >= 99 && took < 400, `took ${took} ms`);
    // What came before the timeout is kept; no newline came.
    const [partial, partialWriter] = pipe2();
    write(partialWriter, encoder.encode("half a li"));
    assert.deepEqual(await readPipeText(partial, { line: true, timeout: 50 }), {
      text: "half a li",
      end: "timeout",
    });
    close(writer);
    close(partialWriter);
  },
);

sanitizedTest("readPipeText rejects when reading fails, and closes the fd", async () => {
  const [reader, writer] = pipe2();
  await assert.rejects(readPipeText(writer, { timeout: 1000 }), /read: EBADF/);
  assert.throws(() => close(writer), /EBADF/, "closed by readPipeText");
  close(reader);
});

Deno.test("a process that timed out reading a silent pipe exits by itself, at once", async () => {
  const started = performance.now();
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${FIXTURES}pipe_timeout.ts`],
    stdout: "piped",
    signal: AbortSignal.timeout(10_000),
  }).output();
  assert.ok(run.success);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(run.stdout)), { text: "", end: "timeout" });
  assert.ok(performance.now() - started < 5000);
});

sanitizedTest(
  "readPipeText refuses a message longer than PIPE_TEXT_MAX instead of growing",
  async () => {
    const [reader, writer] = pipe2();
    const reading = readPipeText(reader, { line: true, timeout: 5000 });
    const block = new Uint8Array(16 * 1024).fill(120);
    for (let i = 0; i <= PIPE_TEXT_MAX / block.length; i++) await writeLater(writer, block, 1);
    await assert.rejects(reading, /more than 65536 bytes without a newline/);
    close(writer);
  },
);

import assert from "node:assert/strict";
import { followFile } from "../../lib/supervise/follow.ts";
import { RotatingLogFile } from "../../lib/supervise/output/logfile.ts";
import { tempDir, waitFor } from "../fixtures/mod.ts";

const encoder = new TextEncoder();

/** Reads `followFile(path)` until `last` arrives (or 10 s pass) and returns the lines read. */
async function follow(path: string, last: string, started: () => void): Promise<string[]> {
  const signal = AbortSignal.timeout(10_000);
  const decoder = new TextDecoder();
  let text = "";
  const lines = followFile(path, { signal });
  started();
  for await (const chunk of lines) {
    text += decoder.decode(chunk, { stream: true });
    if (text.endsWith(`${last}\n`)) break;
  }
  return text.split("\n").slice(0, -1);
}

Deno.test("followFile reads every line once and in order while the log rotates fast", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/current`;
  // 100-byte lines, 2000 a second, into 4 KiB files (a rotation every 20 ms). 50 are kept: a
  // follower that falls a second behind on a loaded machine still finds every line on disk.
  const log = new RotatingLogFile({ path, maxSize: 4096, keep: 50 });
  const line = (n: number) => `line ${String(n).padStart(5, "0")} ${"x".repeat(88)}`;
  await log.write(encoder.encode("before\n"));
  const total = 4000;
  let start!: () => void;
  const started = new Promise<void>((resolve) => start = resolve);
  const reading = follow(path, line(total - 1), start);
  await started;
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (let n = 0; n < total; n += 20) {
    const batch = Array.from({ length: 20 }, (_, i) => `${line(n + i)}\n`).join("");
    await log.write(encoder.encode(batch));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  log.close();
  const lines = await reading;
  const expected = Array.from({ length: total }, (_, n) => line(n));
  assert.equal(lines.length, total, `${total - lines.length} lines lost or repeated`);
  assert.deepEqual(lines, expected);
});

/** Collects what `followFile(path)` yields into `text` until the returned stop() is called. */
function collect(path: string, lines = 0): { text: () => string; stop: () => Promise<void> } {
  const controller = new AbortController();
  const decoder = new TextDecoder();
  let text = "";
  const done = (async () => {
    for await (const chunk of followFile(path, { lines, signal: controller.signal })) {
      text += decoder.decode(chunk, { stream: true });
    }
  })();
  return {
    text: () => text,
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

Deno.test("followFile reads a truncated file again from its start", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/current`;
  await Deno.writeTextFile(path, "old\n");
  const follower = collect(path);
  try {
    await new Promise((resolve) => setTimeout(resolve, 100));
    await Deno.writeTextFile(path, "one\ntwo\n", { append: true });
    await waitFor("the appended lines", () => follower.text() === "one\ntwo\n");
    await Deno.truncate(path, 0);
    await Deno.writeTextFile(path, "3\n", { append: true }); // shorter than what was read
    await waitFor("the line after the truncation", () => follower.text() === "one\ntwo\n3\n");
  } finally {
    await follower.stop();
  }
});

Deno.test("followFile goes on to the new file when the old one is removed (log-keep 0)", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/current`;
  const log = new RotatingLogFile({ path, maxSize: 10, keep: 0 });
  await log.write(encoder.encode("start\n"));
  const follower = collect(path);
  try {
    await new Promise((resolve) => setTimeout(resolve, 100));
    await log.write(encoder.encode("a\n"));
    await waitFor("the first line", () => follower.text() === "a\n");
    await log.write(encoder.encode("bbbbbbb\nc\n")); // removes current: "b…" starts a new one
    await waitFor("the new file", () => follower.text() === "a\nbbbbbbb\nc\n");
  } finally {
    log.close();
    await follower.stop();
  }
});

Deno.test("followFile starts with the last lines, then what is appended, from one open file", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/current`;
  await Deno.writeTextFile(path, "1\n2\n3\n4\n5\n");
  const follower = collect(path, 2);
  await waitFor("the last two lines", () => follower.text() === "4\n5\n");
  await Deno.writeTextFile(path, "6\n", { append: true });
  await waitFor("the appended line", () => follower.text() === "4\n5\n6\n");
  await follower.stop();
});

Deno.test("followFile started before the file exists reads all of it, after what was rotated from it meanwhile", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/current`;
  await Deno.writeTextFile(`${path}.1`, "old\n"); // From before: not read.
  const follower = collect(path, 10);
  try {
    await new Promise((resolve) => setTimeout(resolve, 100));
    // 20 files of about 4 KiB in a few ms: rotated long before the next look.
    const log = new RotatingLogFile({ path, maxSize: 4096, keep: 50 });
    const lines = Array.from({ length: 2000 }, (_, n) => `line ${n + 1} ${"x".repeat(30)}\n`);
    await log.write(encoder.encode(lines.join("")));
    log.close();
    assert.ok(await Deno.stat(`${path}.19`), "rotated many times");
    await waitFor("the last line", () => follower.text().endsWith(lines.at(-1)!));
    assert.equal(follower.text(), lines.join(""));
  } finally {
    await follower.stop();
  }
});

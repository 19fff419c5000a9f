import assert from "node:assert/strict";
import { awaitReadiness, parseReadyLine, writeReadyLine } from "../../lib/process/readiness.ts";
import { close, pipe2, write } from "../../lib/sys/libc.ts";
import { sanitizedTest } from "../fixtures/sanitized.ts";

Deno.test("parseReadyLine: empty, 0 and plain text are ready; CODE MESSAGE with CODE 1-255 failed", () => {
  assert.deepEqual(parseReadyLine(""), { outcome: "ready", message: "" });
  assert.deepEqual(parseReadyLine("0 supervising /srv/web (supervisor pid 8)"), {
    outcome: "ready",
    message: "supervising /srv/web (supervisor pid 8)",
  });
  assert.deepEqual(parseReadyLine("0"), { outcome: "ready", message: "" });
  assert.deepEqual(parseReadyLine("READY=1"), { outcome: "ready", message: "READY=1" });
  assert.deepEqual(parseReadyLine("5 /srv/web is already supervised by pid 4"), {
    outcome: "failed",
    code: 5,
    message: "/srv/web is already supervised by pid 4",
  });
  assert.deepEqual(parseReadyLine("127"), {
    outcome: "failed",
    code: 127,
    message: "failed with code 127",
  });
  assert.equal(parseReadyLine("256 too big").outcome, "ready");
  assert.equal(parseReadyLine("12abc").outcome, "ready");
});

sanitizedTest("writeReadyLine and awaitReadiness speak the same protocol over a pipe", async () => {
  const [reader, writer] = pipe2();
  writeReadyLine(writer, 4, "permission denied:\nrun as root");
  close(writer); // writeReadyLine put /dev/null in its place
  assert.deepEqual(await awaitReadiness(reader, 5000), {
    outcome: "failed",
    code: 4,
    message: "permission denied: run as root",
  });
  const [silent, held] = pipe2();
  assert.deepEqual(await awaitReadiness(silent, 50), { outcome: "timeout" });
  close(held);
  const [closing, closed] = pipe2();
  close(closed);
  assert.deepEqual(await awaitReadiness(closing, 5000), { outcome: "closed" });
});

sanitizedTest(
  "a readiness fd flooded without a newline is a failed report, not endless reading",
  async () => {
    const [reader, writer] = pipe2();
    const waiting = awaitReadiness(reader, 5000);
    const block = new Uint8Array(16 * 1024).fill(120);
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      write(writer, block);
    }
    assert.deepEqual(await waiting, {
      outcome: "failed",
      code: 1,
      message: "unreadable readiness report: more than 65536 bytes without a newline",
    });
    close(writer);
  },
);

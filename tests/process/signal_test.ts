import assert from "node:assert/strict";
import { signalIfStill, signalSession } from "../../lib/process/signal.ts";
import { processHoldsFile } from "../../lib/procfs/holds.ts";
import { sessionMembers } from "../../lib/procfs/processes.ts";
import { SIGNALS } from "../../lib/sys/constants.ts";
import { isAlive, tempDir, waitFor } from "../fixtures/mod.ts";
import { sanitizedTest } from "../fixtures/sanitized.ts";

sanitizedTest(
  "signalIfStill signals only when the check passes, and reports a gone process",
  async () => {
    const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      assert.equal(signalIfStill(child.pid, SIGNALS.SIGTERM, () => false), false);
      assert.ok(isAlive(child.pid), "a failed check sends nothing");
      assert.equal(signalIfStill(child.pid, SIGNALS.SIGTERM, () => true), true);
      assert.equal((await child.status).signal, "SIGTERM");
      assert.equal(signalIfStill(child.pid, SIGNALS.SIGTERM, () => true), false);
    } finally {
      if (isAlive(child.pid)) child.kill("SIGKILL");
    }
  },
);

sanitizedTest("sessionMembers and signalSession cover a session and nothing else", async () => {
  // setsid: sh leads a new session and starts a sleep in it.
  const child = new Deno.Command("setsid", {
    args: ["sh", "-c", "sleep 30 & wait"],
    stdout: "null",
  }).spawn();
  try {
    await waitFor("sh and sleep in the session", () => sessionMembers(child.pid).length === 2);
    assert.ok(sessionMembers(child.pid).includes(child.pid));
    assert.equal(sessionMembers(child.pid).includes(Deno.pid), false);
    assert.equal(signalSession(child.pid, SIGNALS.SIGKILL), 2);
    await child.status;
    await waitFor("an empty session", () => sessionMembers(child.pid).length === 0);
  } finally {
    signalSession(child.pid, SIGNALS.SIGKILL);
  }
});

sanitizedTest("processHoldsFile finds a file among a process's fds", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/held`;
  Deno.writeTextFileSync(path, "");
  const info = Deno.statSync(path);
  const file = { dev: info.dev, ino: info.ino! };
  using _held = Deno.openSync(path);
  assert.equal(processHoldsFile(Deno.pid, file), true);
  const other = Deno.statSync(dir.path);
  assert.equal(processHoldsFile(Deno.pid, { dev: other.dev, ino: other.ino! }, 3), false);
  assert.equal(processHoldsFile(2 ** 22 + 1, file), false, "no such process");
});

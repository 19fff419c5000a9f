import assert from "node:assert/strict";
import { stopDaemon } from "../../lib/daemon/stop.ts";
import { isAlive, tempDir } from "../fixtures/mod.ts";
import { listing } from "../fixtures/daemon.ts";
import { sanitizedTest } from "../fixtures/sanitized.ts";

// stopDaemon on pidfiles no daemon holds locked: the pid in them is never signalled.

sanitizedTest(
  "stopDaemon leaves an unlocked pidfile whose pid is alive: not signalled, file kept",
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/app.pid`;
    const unrelated = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      Deno.writeTextFileSync(path, `${unrelated.pid}\n`);
      const result = await stopDaemon(path, { timeout: 100 });
      assert.deepEqual(result, {
        outcome: "unlocked",
        path,
        pid: unrelated.pid,
        alive: true,
        name: "sleep",
      });
      assert.ok(isAlive(unrelated.pid), "the live process was not signalled");
      assert.equal(Deno.readTextFileSync(path), `${unrelated.pid}\n`, "the pidfile is kept");
    } finally {
      unrelated.kill("SIGKILL");
      await unrelated.status;
    }
  },
);

sanitizedTest("stopDaemon removes an unlocked pidfile whose pid has exited", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/app.pid`;
  const exited = new Deno.Command("true").spawn();
  await exited.status;
  Deno.writeTextFileSync(path, `${exited.pid}\n`);
  assert.deepEqual(await stopDaemon(path), {
    outcome: "not-running",
    path,
    pid: exited.pid,
    alive: false,
    stale: true,
    removed: true,
  });
  assert.deepEqual(listing(dir.path), []);
});

sanitizedTest("stopDaemon removes an unlocked pidfile holding no pid, saying so", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/app.pid`;
  for (const text of ["garbage\n", ""]) {
    Deno.writeTextFileSync(path, text);
    assert.deepEqual(await stopDaemon(path), {
      outcome: "not-running",
      path,
      pid: null,
      alive: false,
      stale: true,
      removed: true,
    });
    assert.deepEqual(listing(dir.path), [], JSON.stringify(text));
  }
});

sanitizedTest("stopDaemon without a pidfile: not running, nothing removed", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/app.pid`;
  assert.deepEqual(await stopDaemon(path), {
    outcome: "not-running",
    path,
    pid: null,
    alive: false,
    stale: false,
    removed: false,
  });
});

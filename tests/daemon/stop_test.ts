import assert from "node:assert/strict";
import { stopDaemon } from "../../lib/daemon/stop.ts";
import { OpsdError } from "../../lib/errors.ts";
import { isAlive, tempDir } from "../fixtures/mod.ts";
import { Daemons, listing, pidfileOfUnrelated } from "../fixtures/daemon.ts";
import { sanitizedTest } from "../fixtures/sanitized.ts";

// stopDaemon on pidfiles no daemon holds locked, or one that names a pid not holding the
// lock: the pid in them is never signalled.

sanitizedTest(
  "stopDaemon leaves an unlocked pidfile whose pid is alive: not signalled, file kept",
  async () => {
    await using unrelated = await pidfileOfUnrelated();
    const { path } = unrelated;
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
  for (const text of ["", "0\n"]) {
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

sanitizedTest(
  "stopDaemon refuses a file holding something other than a pid (a config named by mistake), removing nothing",
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/app.conf`;
    Deno.writeTextFileSync(path, "user www-data;\n");
    await assert.rejects(stopDaemon(path, { timeout: 100 }), (error: OpsdError) => {
      assert.equal(error.exitCode, 2);
      return true;
    });
    assert.equal(Deno.readTextFileSync(path), "user www-data;\n");
  },
);

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

sanitizedTest(
  "stopDaemon on a pidfile locked by another process than the pid it names: nothing signalled, the truth said",
  async () => {
    await using daemons = await Daemons.create();
    const { pidfile } = daemons;
    const daemon = await daemons.start(["--pidfile", pidfile, "--", "sleep", "30"]);
    const unrelated = new Deno.Command("sleep", { args: ["30"] }).spawn();
    const exited = new Deno.Command("true").spawn();
    await exited.status;
    try {
      const cases: [number, string][] = [
        [
          unrelated.pid,
          `pid ${unrelated.pid} (sleep), which it names, is alive but does not hold the lock: ` +
          "nothing signalled; check which process is the daemon, stop it yourself, ",
        ],
        [
          exited.pid,
          `pid ${exited.pid}, which it names, has exited and nothing is left in its session: ` +
          "nothing signalled; if the program puts itself in the background, run it in the " +
          "foreground under opsd; stop the lock's holder yourself, ",
        ],
      ];
      for (const [pid, what] of cases) {
        // Rewritten in place, as by hand: the daemon's lock on the file stays.
        Deno.writeTextFileSync(pidfile, `${pid}\n`);
        await assert.rejects(stopDaemon(pidfile, { timeout: 100 }), (e: unknown) => {
          assert.ok(e instanceof OpsdError);
          assert.deepEqual([e.exitCode, e.message], [
            1,
            `${pidfile} is locked by pid ${daemon} (sleep); ${what}then remove ${pidfile}`,
          ]);
          return true;
        });
        assert.ok(isAlive(daemon) && isAlive(unrelated.pid), "nothing signalled");
        assert.equal(Deno.readTextFileSync(pidfile), `${pid}\n`, "the pidfile is kept");
      }
    } finally {
      unrelated.kill("SIGKILL");
      await unrelated.status;
    }
  },
);

import assert from "node:assert/strict";
import { daemonStatus } from "../../lib/daemon/status.ts";
import { liveProcess } from "../../lib/daemon/pidfile.ts";
import { stopDaemon } from "../../lib/daemon/stop.ts";
import { OpsdError } from "../../lib/errors.ts";
import { O } from "../../lib/sys/constants.ts";
import { close, open, setLock } from "../../lib/sys/libc.ts";
import { isAlive, tempDir } from "../fixtures/mod.ts";
import { sanitizedTest } from "../fixtures/sanitized.ts";
import { pidfileOfUnrelated } from "../fixtures/daemon.ts";

// This test process plays the lock's holder: an OFD lock through an fd of its own.

/** Locks the pidfile at `path` through a new fd of this process; disposing it unlocks. */
function holdLock(path: string): Disposable {
  const fd = open(path, O.RDWR | O.CLOEXEC);
  assert.equal(setLock(fd, "ofd", "write"), true);
  return { [Symbol.dispose]: () => close(fd) };
}

sanitizedTest(
  "daemonStatus: a pidfile locked by this process while it names another pid is foreign, this process named; stopDaemon refuses alike",
  async () => {
    await using unrelated = await pidfileOfUnrelated();
    const { path } = unrelated;
    using _lock = holdLock(path);
    const me = liveProcess(Deno.pid)!;
    const found = daemonStatus(path);
    assert.ok(found.state !== "missing");
    assert.deepEqual(
      [found.state, found.owner, found.pid, found.process, found.holders],
      ["foreign", "other", unrelated.pid, { pid: unrelated.pid, name: "sleep" }, [me]],
    );
    await assert.rejects(stopDaemon(path, { timeout: 100 }), (e: unknown) => {
      assert.ok(e instanceof OpsdError);
      assert.match(e.message, new RegExp(`^${path} is locked by pid ${Deno.pid} \\(`));
      return true;
    });
    assert.ok(isAlive(unrelated.pid), "not signalled");
  },
);

sanitizedTest(
  "daemonStatus: the pid that holds the lock is running (owner pid, no holders looked up); unlocked again, the file is only reported on",
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/app.pid`;
    Deno.writeTextFileSync(path, `${Deno.pid}\n`);
    {
      using _lock = holdLock(path);
      const found = daemonStatus(path);
      assert.ok(found.state !== "missing");
      assert.deepEqual([found.state, found.owner, found.holders], ["running", "pid", null]);
    }
    const found = daemonStatus(path);
    assert.ok(found.state !== "missing");
    assert.deepEqual([found.state, found.owner, found.holders], ["unlocked", null, null]);
    assert.deepEqual(daemonStatus(`${dir.path}/none.pid`), {
      state: "missing",
      path: `${dir.path}/none.pid`,
    });
  },
);

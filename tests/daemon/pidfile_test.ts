import assert from "node:assert/strict";
import { ExitCode, OpsdError } from "../../lib/errors.ts";
import {
  inspectPidfile,
  liveProcess,
  OpenPidfile,
  PidfileClaim,
  PidfileLocked,
  removePidfile,
} from "../../lib/daemon/pidfile.ts";
import { O } from "../../lib/sys/constants.ts";
import { close, dup, open, setLock } from "../../lib/sys/libc.ts";
import { childrenOf } from "../../lib/procfs/processes.ts";
import { readProcStat } from "../../lib/procfs/stat.ts";
import { tempDir, waitFor } from "../fixtures/mod.ts";
import { sanitizedTest } from "../fixtures/sanitized.ts";
import { pidfileOfUnrelated } from "../fixtures/daemon.ts";

// OFD locks conflict between open files even within one process, so this test file
// can play the daemon: it keeps a dup of the claim's fd, which holds the lock.

/**
 * Claims `path` and commits `pid`, keeping a dup of the claim's fd as the daemon's
 * fd 3; disposing it is the daemon exiting.
 */
function fakeDaemon(path: string, pid: number): Disposable {
  const claim = PidfileClaim.claim(path);
  const daemonFd = dup(claim.fd);
  claim.commit(pid);
  return { [Symbol.dispose]: () => close(daemonFd) };
}

// Above Linux's highest pid (PID_MAX_LIMIT, 2^22): never a live process.
const NO_SUCH_PID = 9_999_999;

function isBusy(pattern: RegExp) {
  return (error: unknown) =>
    error instanceof OpsdError && error.exitCode === ExitCode.busy && pattern.test(error.message);
}

sanitizedTest(
  "a committed claim is a pidfile holding the pid, locked while the daemon's fd lives",
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/app.pid`;
    assert.equal(inspectPidfile(path).state, "missing");
    {
      using _daemon = fakeDaemon(path, NO_SUCH_PID);
      assert.equal(Deno.readTextFileSync(path), `${NO_SUCH_PID}\n`);
      assert.equal(Deno.statSync(path).mode! & 0o777, 0o644);
      assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["app.pid"]);
      const state = inspectPidfile(path);
      assert.equal(state.state, "running");
      assert.equal(state.state === "running" && state.pid, NO_SUCH_PID);
    }
    assert.equal(inspectPidfile(path).state, "stale", "the lock went with the daemon's last fd");
  },
);

sanitizedTest(
  "the lock survives the daemon opening, reading and closing its own pidfile",
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/app.pid`;
    using _daemon = fakeDaemon(path, 4242);
    for (let i = 0; i < 3; i++) {
      Deno.readTextFileSync(path);
      close(open(path, O.RDWR | O.CLOEXEC));
    }
    assert.equal(inspectPidfile(path).state, "running");
  },
);

sanitizedTest(
  "a second claim is refused while the daemon holds the pidfile (PidfileLocked, exit 5)",
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/app.pid`;
    using _daemon = fakeDaemon(path, 4242);
    assert.throws(() => PidfileClaim.claim(path), (error: unknown) => {
      assert.ok(error instanceof PidfileLocked);
      assert.deepEqual([error.exitCode, error.path], [ExitCode.busy, path]);
      return true;
    });
    assert.equal(Deno.readTextFileSync(path), "4242\n", "the pidfile is untouched");
  },
);

sanitizedTest("a claim is refused while another opsd is starting the same daemon", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/app.pid`;
  {
    using _first = PidfileClaim.claim(path);
    assert.throws(() => PidfileClaim.claim(path), isBusy(/another opsd is starting/));
  }
  using second = PidfileClaim.claim(path);
  assert.equal(second.replaced, null, "the first, abandoned, left nothing behind");
});

sanitizedTest("a stale pidfile is replaced, and the claim says which pid it named", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/app.pid`;
  fakeDaemon(path, NO_SUCH_PID)[Symbol.dispose]();
  assert.equal(inspectPidfile(path).state, "stale");
  using claim = PidfileClaim.claim(path);
  assert.equal(claim.replaced, NO_SUCH_PID);
  claim.commit(2222);
  assert.equal(Deno.readTextFileSync(path), "2222\n");
});

sanitizedTest(
  "an abandoned claim leaves no file behind, and a stale pidfile as it was",
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/app.pid`;
    PidfileClaim.claim(path)[Symbol.dispose]();
    assert.deepEqual([...Deno.readDirSync(dir.path)], []);
    Deno.writeTextFileSync(path, ""); // left by an opsd killed mid-start: names no pid
    PidfileClaim.claim(path)[Symbol.dispose]();
    assert.deepEqual([...Deno.readDirSync(dir.path)], []);
    Deno.writeTextFileSync(path, "1111\n");
    PidfileClaim.claim(path)[Symbol.dispose]();
    assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["app.pid"]);
    assert.equal(Deno.readTextFileSync(path), "1111\n");
  },
);

sanitizedTest("a FILE.new left by an opsd that died mid-start is replaced", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/app.pid`;
  Deno.writeTextFileSync(`${path}.new`, "garbage");
  fakeDaemon(path, 3333)[Symbol.dispose]();
  assert.equal(Deno.readTextFileSync(path), "3333\n");
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["app.pid"]);
});

sanitizedTest(
  "a claim never follows a symlink at FILE: refused (exit 2), nothing created through it",
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/app.pid`, target = `${dir.path}/elsewhere`;
    Deno.symlinkSync(target, path);
    const refused = (error: unknown) =>
      error instanceof OpsdError && error.exitCode === ExitCode.usage &&
      error.message.includes(`${path}: it is a symbolic link`);
    assert.throws(() => PidfileClaim.claim(path), refused, "to a missing file");
    Deno.writeTextFileSync(target, "");
    assert.throws(() => PidfileClaim.claim(path), refused, "to an existing file");
    assert.equal(Deno.readLinkSync(path), target, "the link is left as it was");
    assert.equal(Deno.readTextFileSync(target), "", "its target untouched");
    const names = [...Deno.readDirSync(dir.path)].map((e) => e.name).sort();
    assert.deepEqual(names, ["app.pid", "elsewhere"]);
  },
);

sanitizedTest(
  "removePidfile removes only an unlocked pidfile that is still the one asked about",
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/app.pid`;
    const daemon = fakeDaemon(path, 4242);
    const first = inspectPidfile(path);
    assert.equal(removePidfile(path), false, "locked: kept");
    daemon[Symbol.dispose]();
    fakeDaemon(path, 5555)[Symbol.dispose](); // a new (now also stopped) daemon replaced the file
    assert.ok(first.state !== "missing");
    assert.equal(removePidfile(path, first.file), false, "another file by now: kept");
    assert.equal(removePidfile(path), true);
    assert.equal(inspectPidfile(path).state, "missing");
    assert.equal(removePidfile(path), false);
  },
);

sanitizedTest("asking about a pidfile takes no lock: a daemon can lock it meanwhile", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/app.pid`;
  Deno.writeTextFileSync(path, "77\n");
  using pidfile = OpenPidfile.open(path)!;
  assert.equal(pidfile.pid, 77);
  assert.equal(pidfile.locked(), false);
  const daemon = open(path, O.RDWR | O.CLOEXEC);
  try {
    assert.equal(setLock(daemon, "ofd", "write"), true);
    assert.equal(pidfile.locked(), true);
  } finally {
    close(daemon);
  }
});

sanitizedTest(
  "a pidfile path that is a directory, or in a missing directory, is a usage error",
  async () => {
    await using dir = await tempDir();
    const usage = (pattern: RegExp) => (error: unknown) =>
      error instanceof OpsdError && error.exitCode === ExitCode.usage &&
      pattern.test(error.message);
    assert.throws(() => PidfileClaim.claim(dir.path), usage(/is a directory, not a pidfile/));
    assert.throws(
      () => PidfileClaim.claim(`${dir.path}/missing/app.pid`),
      usage(/directory .*missing does not exist/),
    );
  },
);

sanitizedTest(
  "a FIFO, a directory or a socket named as a pidfile is refused before it is read: no wait for a writer, no bare errno",
  async () => {
    await using dir = await tempDir();
    const fifo = `${dir.path}/fifo.pid`;
    const mkfifo = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.ok(mkfifo.success);
    const socket = `${dir.path}/socket.pid`;
    using _listener = Deno.listen({ transport: "unix", path: socket });
    const cases = [[fifo, "a FIFO"], [dir.path, "a directory"], [socket, "a socket"]];
    for (const [path, kind] of cases) {
      const refused = (error: unknown) =>
        error instanceof OpsdError && error.exitCode === ExitCode.usage &&
        error.message === `${path} is ${kind}, not a pidfile: name the daemon's pidfile`;
      assert.throws(() => inspectPidfile(path), refused, `inspect ${kind}`);
      assert.throws(() => OpenPidfile.open(path), refused, `open ${kind}`);
      assert.throws(() => removePidfile(path), refused, `remove ${kind}`);
      assert.throws(() => PidfileClaim.claim(path), refused, `claim ${kind}`);
    }
    assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name).sort(), [
      "fifo.pid",
      "socket.pid",
    ]);
  },
);

sanitizedTest(
  "an unlocked pidfile is unlocked when its pid is a live process, stale when it is not",
  async () => {
    await using unrelated = await pidfileOfUnrelated();
    const found = inspectPidfile(unrelated.path);
    assert.ok(found.state !== "missing");
    assert.deepEqual([found.state, found.pid, found.process], [
      "unlocked",
      unrelated.pid,
      { pid: unrelated.pid, name: "sleep" },
    ]);
    await unrelated.kill();
    const after = inspectPidfile(unrelated.path);
    assert.ok(after.state !== "missing");
    assert.deepEqual([after.state, after.pid, after.process], ["stale", unrelated.pid, null]);
  },
);

sanitizedTest(
  "a pidfile holding no pid (empty, 0) is stale with pid null; one holding something else is no pidfile",
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/app.pid`;
    for (const text of ["", "0\n", " \n"]) {
      Deno.writeTextFileSync(path, text);
      const found = inspectPidfile(path);
      assert.ok(found.state !== "missing");
      assert.deepEqual([found.state, found.pid, found.process], ["stale", null, null], text);
    }
    for (const text of ["garbage\n", "12 34\n"]) {
      Deno.writeTextFileSync(path, text);
      assert.throws(() => inspectPidfile(path), (error: OpsdError) => {
        assert.equal(error.exitCode, ExitCode.usage);
        assert.match(error.message, /holds something other than a pid: no pidfile/);
        return true;
      });
    }
  },
);

sanitizedTest(
  "a file holding something other than a pid is no pidfile: neither claimed nor removed, left as it was",
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/app.conf`;
    for (const text of ["garbage\n", "12 34\n", "listen 80;\n", "1234\n".padEnd(100, " ")]) {
      Deno.writeTextFileSync(path, text);
      assert.throws(() => PidfileClaim.claim(path), (error: OpsdError) => {
        assert.equal(error.exitCode, ExitCode.usage);
        assert.match(error.message, /holds something other than a pid: no pidfile/);
        return true;
      });
      assert.throws(() => removePidfile(path), OpsdError);
      assert.equal(Deno.readTextFileSync(path), text, JSON.stringify(text));
      assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["app.conf"]);
    }
  },
);

sanitizedTest("liveProcess: a live pid's name; null for none, a gone pid, a zombie", async () => {
  assert.deepEqual(liveProcess(Deno.pid), { pid: Deno.pid, name: readComm(Deno.pid) });
  assert.equal(liveProcess(null), null);
  assert.equal(liveProcess(NO_SUCH_PID), null);
  // sleep never reaps the child sh left it: once exited, that child is a zombie.
  const parent = new Deno.Command("sh", { args: ["-c", "true & exec sleep 30"] }).spawn();
  try {
    const zombie = await waitFor("the zombie", () => {
      const [pid] = childrenOf(parent.pid);
      return pid !== undefined && readProcStat(pid)?.state === "Z" ? pid : null;
    });
    assert.equal(liveProcess(zombie), null);
  } finally {
    parent.kill("SIGKILL");
    await parent.status;
  }
});

function readComm(pid: number): string {
  return Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
}

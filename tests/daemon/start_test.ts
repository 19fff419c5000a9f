import assert from "node:assert/strict";
import { ExitCode, OpsdError } from "../../lib/errors.ts";
import { inspectPidfile } from "../../lib/daemon/pidfile.ts";
import { startDaemon } from "../../lib/daemon/start.ts";
import { isAlive, tempDir, waitFor } from "../fixtures/mod.ts";
import { O } from "../../lib/sys/constants.ts";
import { close, isErrno, open, read } from "../../lib/sys/libc.ts";
import { Daemons, listing, procFacts, settledFds } from "../fixtures/daemon.ts";
import { sanitizedTest } from "../fixtures/sanitized.ts";

// startDaemon in-process: the daemon stays this test's child (opsd would exit and
// leave it to pid 1), so `Daemons` kills and reaps what each test starts.

/** A daemon that reports ready after `delay` seconds, then closes the fd and sleeps. */
const READY_AFTER = (delay: number) =>
  `sleep ${delay}; echo >&"$OPSD_READY_FD"; eval "exec $OPSD_READY_FD>&-"; exec sleep 30`;

sanitizedTest(
  "startDaemon resolves once exec'd: own session, fds 0-2 on /dev/null, nothing else",
  async () => {
    await using daemons = await Daemons.create();
    const { pid, pidfile } = await startDaemon({ argv: ["sleep", "30"] });
    daemons.track(pid);
    assert.equal(pidfile, null);
    const facts = procFacts(pid);
    assert.equal(Deno.readLinkSync(`/proc/${pid}/exe`), "/usr/bin/sleep");
    assert.equal(facts.sid, pid);
    assert.equal(facts.pgid, pid);
    const fds = { 0: "/dev/null", 1: "/dev/null", 2: "/dev/null" };
    assert.deepEqual(await settledFds(pid, fds), fds);
  },
);

sanitizedTest(
  "with readyTimeout, startDaemon returns only once the daemon wrote a newline",
  async () => {
    await using daemons = await Daemons.create();
    const { dir } = daemons;
    const started = Date.now();
    const { pid } = await startDaemon({
      argv: ["sh", "-c", READY_AFTER(0.3)],
      pidfile: `${dir}/app.pid`,
      readyTimeout: 10_000,
    });
    daemons.track(pid);
    assert.ok(Date.now() - started >= 250, "it waited for the newline");
    assert.equal(inspectPidfile(`${dir}/app.pid`).state, "running");
  },
);

sanitizedTest(
  "a daemon that exits before it is ready is reported with its exit code, pidfile gone",
  async () => {
    await using dir = await tempDir();
    await assert.rejects(
      startDaemon({
        argv: ["sh", "-c", "exit 7"],
        pidfile: `${dir.path}/app.pid`,
        readyTimeout: 10_000,
      }),
      (e: unknown) =>
        e instanceof OpsdError && e.exitCode === ExitCode.failure &&
        /pid \d+ exited 7 before it reported ready/.test(e.message),
    );
    assert.deepEqual([...Deno.readDirSync(dir.path)], []);
  },
);

sanitizedTest(
  "a daemon that misses readyTimeout, or closes the fd without a newline, is killed",
  async () => {
    await using dir = await tempDir();
    const pidfile = `${dir.path}/app.pid`;
    let pid = 0;
    await assert.rejects(
      startDaemon({ argv: ["sleep", "30"], pidfile, readyTimeout: 300 }),
      (e: unknown) => {
        pid = Number(/pid (\d+)/.exec((e as Error).message)?.[1]);
        return e instanceof OpsdError && e.exitCode === ExitCode.timeout &&
          /did not report ready within 300 ms: stopped it; if it needs longer, raise --wait-ready \(0: no limit\)/
            .test(e.message);
      },
    );
    assert.equal(isAlive(pid), false);
    assert.equal(inspectPidfile(pidfile).state, "missing");
    await assert.rejects(
      startDaemon({
        argv: ["sh", "-c", 'eval "exec $OPSD_READY_FD>&-"; exec sleep 30'],
        pidfile,
        readyTimeout: 10_000,
      }),
      /closed its ready fd without writing a newline: killed it/,
    );
    assert.equal(inspectPidfile(pidfile).state, "missing");
  },
);

sanitizedTest(
  "a daemon that reports CODE MESSAGE on the ready fd fails with that code and message, nothing left",
  async () => {
    await using dir = await tempDir();
    const pidfile = `${dir.path}/app.pid`;
    await assert.rejects(
      startDaemon({
        argv: ["sh", "-c", 'echo "3 no config in /etc/app.conf" >&"$OPSD_READY_FD"; exit 3'],
        pidfile,
        readyTimeout: 10_000,
      }),
      (e: unknown) =>
        e instanceof OpsdError && e.exitCode === 3 && e.message === "no config in /etc/app.conf",
    );
    assert.deepEqual([...Deno.readDirSync(dir.path)], []);
    // One that says so but lingers is stopped after stopTimeout.
    let pid = 0;
    await assert.rejects(
      startDaemon({
        argv: ["sh", "-c", 'echo "$$" > pid; echo "9 giving up" >&"$OPSD_READY_FD"; exec sleep 30'],
        cwd: dir.path,
        readyTimeout: 10_000,
        stopTimeout: 200,
      }),
      (e: unknown) => {
        pid = Number(Deno.readTextFileSync(`${dir.path}/pid`));
        return e instanceof OpsdError && Number(e.exitCode) === 9 && e.message === "giving up";
      },
    );
    assert.equal(isAlive(pid), false);
  },
);

sanitizedTest(
  "readyTimeout 0 means no time limit: startDaemon waits for the line, and still reports an exit",
  async () => {
    await using daemons = await Daemons.create();
    const { dir } = daemons;
    const started = Date.now();
    const { pid, ready } = await startDaemon({
      argv: ["sh", "-c", READY_AFTER(0.3)],
      pidfile: `${dir}/app.pid`,
      readyTimeout: 0,
    });
    daemons.track(pid);
    assert.ok(Date.now() - started >= 250, "it waited for the newline, not timed out at once");
    assert.equal(ready, "");
    assert.equal(inspectPidfile(`${dir}/app.pid`).state, "running");
    await assert.rejects(
      startDaemon({ argv: ["sh", "-c", "sleep 0.2; exit 7"], readyTimeout: 0 }),
      (e: unknown) =>
        e instanceof OpsdError && e.exitCode === ExitCode.failure &&
        /pid \d+ exited 7 before it reported ready/.test(e.message),
    );
  },
);

sanitizedTest(
  "a log that is a FIFO is opened without waiting: refused (1) while nobody reads it, else blocking for the daemon; a socket is refused (2)",
  async () => {
    await using daemons = await Daemons.create();
    const { dir } = daemons;
    const fifo = `${dir}/log.fifo`;
    assert.ok((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
    const pidfile = `${dir}/app.pid`;
    await assert.rejects(
      startDaemon({ argv: ["sleep", "30"], pidfile, log: fifo }),
      (e: unknown) =>
        e instanceof OpsdError && e.exitCode === ExitCode.failure &&
        e.message === `cannot open log ${fifo}: it is a FIFO that no process reads: ` +
            "start its reader first",
    );
    const socket = `${dir}/log.sock`;
    using _listener = Deno.listen({ transport: "unix", path: socket });
    await assert.rejects(
      startDaemon({ argv: ["sleep", "30"], pidfile, log: socket }),
      (e: unknown) =>
        e instanceof OpsdError && e.exitCode === ExitCode.usage &&
        e.message === `cannot open log ${socket}: it is a socket, not a file: choose another path`,
    );
    assert.deepEqual(listing(dir).sort(), ["log.fifo", "log.sock"]);
    // With a reader, the daemon writes to it, on an fd that blocks as usual.
    const reader = open(fifo, O.RDONLY | O.NONBLOCK | O.CLOEXEC);
    try {
      const { pid } = await startDaemon({
        argv: ["sh", "-c", "echo started; exec sleep 30"],
        pidfile,
        log: fifo,
      });
      daemons.track(pid);
      const flags = /flags:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/fdinfo/1`))![1];
      assert.equal(parseInt(flags, 8) & O.NONBLOCK, 0, `flags ${flags}`);
      const buffer = new Uint8Array(64);
      let length = 0;
      await waitFor("the daemon's line in the FIFO", () => {
        try {
          length = read(reader, buffer);
          return length > 0;
        } catch (error) {
          if (isErrno(error, "EAGAIN")) return false;
          throw error;
        }
      });
      assert.equal(new TextDecoder().decode(buffer.subarray(0, length)), "started\n");
    } finally {
      close(reader);
    }
  },
);

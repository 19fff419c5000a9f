import assert from "node:assert/strict";
import { resolveService, type ServicePaths } from "../../lib/service/paths.ts";
import { type ControlServer, sendControl, serveControl } from "../../lib/supervise/control.ts";
import {
  acquireLock,
  controlPath,
  releaseLock,
  runningSupervisor,
  type StateLock,
} from "../../lib/supervise/state.ts";
import { close } from "../../lib/sys/libc.ts";
import { opsdArgv } from "../../lib/self.ts";
import { shellQuote } from "../../lib/text/command.ts";
import { isAlive, runOpsd, tempDir, waitFor } from "../fixtures/mod.ts";
import {
  copyService,
  type RunningSupervisor,
  startSupervisor,
  superviseInBackground,
} from "../fixtures/supervise.ts";

/** What `opsd WORD` says when the supervisor of `service` is exiting, `why`. */
function exitingRefusal(word: string, service: string, why: string): string {
  return `opsd ${word}: the supervisor of ${service} is exiting (${why}): it takes the service ` +
    "down; start a new supervisor once it has exited to run it again\n";
}

/** Waits until the supervisor has exited, for at most `timeout` ms, and returns its exit code. */
async function exitedWithin(supervisor: RunningSupervisor, timeout: number): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${timeout} ms`)), timeout);
  });
  try {
    return await Promise.race([supervisor.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("while its supervisor is exiting (opsd exit), up, once and restart are refused; down, status and signals are answered", async () => {
  await using service = await copyService("stubborn");
  // A stop timeout long enough that only opsd kill ends the stop within the test.
  await using supervisor = await startSupervisor(service.path, ["--stop-timeout", "60s"]);
  await supervisor.waitStatus("up", (s) => s.state === "up");
  await waitFor("the trap set", () => Deno.stat(`${service.path}/started`).catch(() => null));

  const exit = await runOpsd(["exit", "--no-wait", service.path]);
  assert.equal(exit.code, 0, exit.stderr);
  assert.match(exit.stdout, /: supervisor exiting; stopping \(pid \d+, pgid \d+\), KILL in /);
  for (const word of ["up", "once", "restart"]) {
    const refused = await runOpsd([word, service.path]);
    assert.equal(refused.code, 1, word);
    assert.equal(refused.stdout, "", word);
    assert.equal(refused.stderr, exitingRefusal(word, service.path, "opsd exit"), word);
  }
  const svc = await runOpsd(["svc", "-u", service.path]);
  assert.equal(svc.code, 1);
  assert.equal(svc.stderr, exitingRefusal("svc", service.path, "opsd exit"));
  assert.equal(supervisor.status()!.want, "down", "nothing refused changed what is wanted");

  // down and exit want what is happening: acknowledged.
  const down = await runOpsd(["down", service.path]);
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /: stopping \(pid \d+, pgid \d+\), KILL in [\d.]+ s, want down\n$/);
  assert.equal((await runOpsd(["exit", "-q", "--no-wait", service.path])).code, 0);

  // status says so, on the line and in --json.
  const status = await runOpsd(["status", service.path]);
  assert.equal(status.code, 1, "stopping is not up");
  assert.match(
    status.stdout,
    /: stopping \(pid \d+, pgid \d+\), KILL in [\d.]+ s, want down; its supervisor is exiting \(opsd exit\): it takes the service down; start a new supervisor once it has exited to run it again\n$/,
  );
  const json = JSON.parse((await runOpsd(["status", "--json", service.path])).stdout);
  assert.deepEqual(json.supervisor, {
    running: true,
    pid: supervisor.pid,
    detached: false,
    exiting: "opsd exit",
  });
  assert.match(json.notes[0], /^its supervisor is exiting \(opsd exit\): /);

  // A signal still reaches the process being stopped, and says so: kill hurries the exit.
  const kill = await runOpsd(["kill", service.path]);
  assert.equal(kill.code, 0, kill.stderr);
  assert.match(kill.stdout, /: sent KILL; stopping \(pid \d+, pgid \d+\), KILL in /);
  assert.equal(await exitedWithin(supervisor, 20_000), 0);
  assert.equal(supervisor.status()!.signal, "SIGKILL");
  assert.equal(supervisor.status()!.starts, 1, "the refused words started nothing");
});

Deno.test("while its supervisor is exiting on TERM, up is refused, naming TERM; status says so once", async () => {
  await using service = await copyService("stubborn");
  await Deno.mkdir(`${service.path}/log`);
  await Deno.writeTextFile(`${service.path}/log/run`, "#!/bin/sh\nexec cat > /dev/null\n", {
    mode: 0o755,
  });
  await using supervisor = await startSupervisor(service.path, ["--stop-timeout", "60s"]);
  await supervisor.waitStatus("up", (s) => s.state === "up");
  await waitFor("the trap set", () => Deno.stat(`${service.path}/started`).catch(() => null));
  Deno.kill(supervisor.pid, "SIGTERM");
  await supervisor.waitStatus("exiting", (s) => s.supervisor.exiting === "TERM received");

  const up = await runOpsd(["up", service.path]);
  assert.equal(up.code, 1);
  assert.equal(up.stderr, exitingRefusal("up", service.path, "TERM received"));
  // The main line says it; the log/ line below it, of the same supervisor, does not repeat it.
  const status = (await runOpsd(["status", service.path])).stdout;
  assert.match(status, /, want down; its supervisor is exiting \(TERM received\): /);
  assert.equal(status.split("is exiting").length, 2, status);
  assert.match(status, /\/log: up \(pid \d+, pgid \d+\) \d+ seconds?, normally up\n$/);
  // Waiting for it to come up is answered at once: it cannot.
  const started = Date.now();
  const wait = await runOpsd(["wait", "--up", "--timeout", "30s", service.path]);
  assert.equal(wait.code, 3);
  assert.match(wait.stderr, /: it cannot get up while its supervisor exits \(once it has, start /);
  assert.ok(Date.now() - started < 10_000, "not after the timeout");
  // Past the point where it stops listening (its socket gone), a word says why, not "starting".
  await Deno.remove(`${service.path}/supervise/control`);
  const late = await runOpsd(["down", service.path]);
  assert.equal(late.code, 3);
  assert.equal(
    late.stderr,
    `opsd down: no supervisor running for ${service.path} (the last one, pid ${supervisor.pid}, ` +
      `is exiting (TERM received) and no longer listens): nothing to take down here; ` +
      `'opsd status ${service.path}' says whether processes of it still run ` +
      `(with --ok-if-stopped, opsd down takes none running as done)\n`,
  );
  Deno.kill(supervisor.status()!.pid!, "SIGKILL");
  assert.equal(await exitedWithin(supervisor, 20_000), 0);
});

Deno.test("every request the supervisor has read is answered before it closes, also after its loop ended", async () => {
  // steady exits at once on TERM: the supervisor is done while later requests wait their turn.
  await using service = await copyService("steady");
  await using supervisor = await startSupervisor(service.path);
  await supervisor.waitStatus("up", (s) => s.state === "up");

  const connection = await Deno.connect({
    transport: "unix",
    path: controlPath(supervisor.paths),
  });
  const requests = ["exit", "down", "up", "status"];
  await connection.write(
    new TextEncoder().encode(
      requests.map((command) => `${JSON.stringify({ command })}\n`).join(""),
    ),
  );
  let text = "";
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(65536);
  for (let count; (count = await connection.read(buffer)) !== null;) {
    text += decoder.decode(buffer.subarray(0, count), { stream: true });
  }
  connection.close();
  const replies = text.trimEnd().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(
    replies.map((reply) => reply.ok),
    [true, true, false, true],
    "one reply per request, in order, then the supervisor closed",
  );
  const refusal = exitingRefusal("x", service.path, "opsd exit").replace(/^opsd x: /, "");
  assert.equal(replies[2].error, refusal.trimEnd());
  assert.equal(replies[3].status.want, "down");
  assert.equal(await exitedWithin(supervisor, 20_000), 0);
});

Deno.test("svc -xd is acknowledged (down wants what exit does); svc -xu is refused, also once the supervisor is gone", async () => {
  await using service = await copyService("stubborn");
  await using supervisor = await startSupervisor(service.path, ["--stop-timeout", "60s"]);
  await supervisor.waitStatus("up", (s) => s.state === "up");
  await waitFor("the trap set", () => Deno.stat(`${service.path}/started`).catch(() => null));
  const xd = await runOpsd(["svc", "-xd", "--no-wait", service.path]);
  assert.equal(xd.code, 0, xd.stderr);
  assert.match(xd.stdout, /: supervisor exiting; stopping \(pid \d+, pgid \d+\), .*want down\n$/);
  const xu = await runOpsd(["svc", "-xu", service.path]);
  assert.equal(xu.code, 1);
  assert.equal(xu.stderr, exitingRefusal("svc", service.path, "opsd exit"));
  assert.match(
    xu.stdout,
    /: supervisor exiting; stopping \(pid \d+, pgid \d+\), /,
    "the exit said",
  );
  assert.equal((await runOpsd(["kill", "-q", service.path])).code, 0);
  assert.equal(await exitedWithin(supervisor, 20_000), 0);

  // A service that stops at once: its supervisor may be gone before a down would reach it
  // (svc -xd used to say, at once, that it did not answer within 5 s); down is not sent.
  await using quick = await copyService("steady");
  for (let round = 0; round < 3; round++) {
    await using again = await startSupervisor(quick.path);
    await again.waitStatus("up", (s) => s.state === "up");
    const run = await runOpsd(["svc", "-xd", quick.path]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /: supervisor not running; down \d+ seconds?, killed by SIGTERM\n$/);
    assert.equal(runningSupervisor(again.paths), null, "svc -x waited for the supervisor to end");
    assert.equal(await exitedWithin(again, 20_000), 0);
  }
  // Nor is up after an exit: it is refused (1) as the supervisor refuses it, not found
  // without a supervisor (3) when that one is gone before it would reach it.
  for (let round = 0; round < 3; round++) {
    await using again = await startSupervisor(quick.path);
    await again.waitStatus("up", (s) => s.state === "up");
    const run = await runOpsd(["svc", "-xu", quick.path]);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stderr, exitingRefusal("svc", quick.path, "opsd exit"));
    assert.equal(await exitedWithin(again, 20_000), 0);
  }
});

Deno.test("a supervisor that closes the connection without answering is not said to time out (1); one that does not answer times out (6)", async () => {
  await using service = await copyService("steady");
  const paths = resolveService(service.path);
  // A stand-in holding the lock and listening as a supervisor does.
  const held = acquireLock(paths);
  const locks = [...held.locks, held.dir.fd];
  const listener = Deno.listen({ transport: "unix", path: controlPath(paths) });
  try {
    const served = (async () => {
      const held: Deno.Conn[] = [];
      for await (const connection of listener) {
        await connection.read(new Uint8Array(1024));
        // The first request is dropped at once; the second is never answered.
        if (held.length === 0) connection.close();
        held.push(connection);
        if (held.length === 2) return held;
      }
      return held;
    })();
    const started = Date.now();
    const closed = await runOpsd(["up", service.path]);
    assert.equal(closed.code, 1);
    assert.equal(
      closed.stderr,
      `opsd up: the supervisor of ${service.path} closed the connection without answering ` +
        `(it may have exited): check with 'opsd status ${service.path}'\n`,
    );
    assert.ok(Date.now() - started < 4000, "said at once");
    const silent = await runOpsd(["down", service.path]);
    assert.equal(silent.code, 6);
    assert.match(silent.stderr, /^opsd down: the supervisor of .* did not answer within 5 s; /);
    (await served).slice(1).forEach((connection) => connection.close());

    // Holding the lock without listening (the loop above closed the listener): starting.
    const starting = await runOpsd(["up", service.path]);
    assert.equal(starting.code, 3);
    assert.match(starting.stderr, / \(it holds the lock but does not listen yet: it is starting; /);

    // A supervisor that exits without answering (its lock released first): not running (3).
    const exited = (async () => {
      for await (const connection of Deno.listen({ transport: "unix", path: controlPath(paths) })) {
        await connection.read(new Uint8Array(1024));
        locks.splice(0).forEach(close);
        connection.close();
        return;
      }
    })();
    const gone = await runOpsd(["up", service.path]);
    await exited;
    assert.equal(gone.code, 3);
    assert.match(gone.stderr, /: no supervisor running for .* \(it exited without answering\): /);
  } finally {
    try {
      listener.close();
    } catch {
      // Closed already.
    }
    locks.forEach(close);
  }
});

Deno.test("exit to a supervisor that ends on its own meanwhile (exited unanswered, or exiting and no longer listening) waits for it and is done (0)", async () => {
  await using service = await copyService("steady");
  const paths = resolveService(service.path);
  // A real supervisor's last record, for the stand-ins below.
  await using supervisor = await startSupervisor(service.path);
  await supervisor.waitStatus("up", (s) => s.state === "up");
  assert.equal(await supervisor.stop(), 0);
  const record = JSON.parse(await Deno.readTextFile(`${paths.stateDir}/status.json`));

  // A stand-in that reads the request, then exits (lock released) without answering.
  let held = acquireLock(paths);
  let locks = [...held.locks, held.dir.fd];
  const listener = Deno.listen({ transport: "unix", path: controlPath(paths) });
  try {
    const exited = listener.accept().then(async (connection) => {
      await connection.read(new Uint8Array(1024));
      locks.splice(0).forEach(close);
      connection.close();
    });
    const unanswered = await runOpsd(["exit", service.path]);
    await exited;
    assert.equal(unanswered.code, 0, unanswered.stderr);
    assert.match(unanswered.stdout, /^\S+: supervisor not running; down \d+ seconds?, /);
  } finally {
    listener.close();
    locks.forEach(close);
  }

  // A stand-in whose record says it is exiting (TERM), that no longer listens, and ends soon.
  held = acquireLock(paths);
  locks = [...held.locks, held.dir.fd];
  try {
    record.supervisor = { ...record.supervisor, pid: Deno.pid, exiting: "TERM received" };
    await Deno.writeTextFile(`${paths.stateDir}/status.json`, JSON.stringify(record));
    const ends = setTimeout(() => locks.splice(0).forEach(close), 500);
    const exiting = await runOpsd(["exit", "--json", service.path]);
    clearTimeout(ends);
    assert.equal(exiting.code, 0, exiting.stderr);
    assert.deepEqual(JSON.parse(exiting.stdout).done, ["supervisor exited"]);
    assert.equal(runningSupervisor(paths), null, "it waited until the lock was released");
  } finally {
    locks.forEach(close);
  }
});

Deno.test("exit sent to a log service is refused, naming the service's exit and the logger's restart", async () => {
  await using service = await copyService("logged");
  await using supervisor = await startSupervisor(service.path);
  await supervisor.waitStatus("log up", (s) => s.state === "up", { role: "log" });
  await supervisor.waitStatus("up", (s) => s.state === "up");
  const log = `${service.path}/log`;
  const refusal = `${log} is the log service of ${service.path}: exit ends their one supervisor, ` +
    `taking both down; to do that, use 'opsd exit ${service.path}'; to restart the logger, ` +
    `'opsd restart ${log}'\n`;
  const exit = await runOpsd(["exit", log]);
  assert.equal(exit.code, 1);
  assert.equal(exit.stderr, `opsd exit: ${refusal}`);
  const svc = await runOpsd(["svc", "-x", log]);
  assert.equal(svc.code, 1);
  assert.equal(svc.stderr, `opsd svc: ${refusal}`);
  const status = await runOpsd(["status", service.path]);
  assert.equal(status.code, 0, `both still up:\n${status.stdout}`);
  assert.doesNotMatch(status.stdout, /exiting/);

  // What it advises does what it says.
  const pid = supervisor.status("log")!.pid;
  assert.equal((await runOpsd(["restart", "-q", log])).code, 0);
  await supervisor.waitStatus("logger restarted", (s) => s.state === "up" && s.pid !== pid, {
    role: "log",
  });
  assert.equal((await runOpsd(["exit", "-q", service.path])).code, 0);
  assert.equal(await exitedWithin(supervisor, 20_000), 0);
});

Deno.test("a reply with a large stderr tail (tail-bytes over 64 KiB) is read whole", async () => {
  await using dir = await tempDir();
  const service = `${dir.path}/loud`;
  await Deno.mkdir(service);
  // 150 KB on stderr, partly control characters (each escaped in six in the JSON reply).
  await Deno.writeTextFile(
    `${service}/run`,
    "#!/bin/sh\nhead -c 100000 /dev/zero | tr '\\0' x >&2\n" +
      "head -c 50000 /dev/zero | tr '\\0' '\\001' >&2\nexec sleep 1000\n",
    { mode: 0o755 },
  );
  await using supervisor = await startSupervisor(service, ["--tail-bytes", "120k"]);
  await supervisor.waitStatus("the whole tail", (s) => s.tail.length === 120 * 1024);
  const up = await runOpsd(["up", "--json", service]);
  assert.equal(up.code, 0, up.stderr);
  const tail: string = JSON.parse(up.stdout).tail;
  assert.equal(tail.length, 120 * 1024);
  assert.ok(
    tail === "x".repeat(120 * 1024 - 50_000) + "\x01".repeat(50_000),
    "the tail as written",
  );
  const printed = await runOpsd(["tail", service]);
  assert.equal(printed.code, 0, printed.stderr);
  assert.ok(printed.stdout === `${tail}\n`, "tail prints the same");
});

/**
 * Serves the control socket of `paths` in the directory `held` pins, answering
 * `no COMMAND`, and checks that a client reaches it by the service's path.
 */
async function servedAndReached(paths: ServicePaths, held: StateLock): Promise<ControlServer> {
  const server = serveControl(
    paths,
    held.dir,
    (request) => Promise.resolve({ ok: false, error: `no ${request.command}` }),
  );
  assert.ok((await Deno.lstat(controlPath(paths))).isSocket);
  assert.deepEqual(await sendControl(paths, { command: "status" }), {
    ok: false,
    error: "no status",
  });
  return server;
}

Deno.test("serveControl listens in the state directory it is given through its pin, and removes its socket from there, wherever it was moved", async () => {
  await using service = await copyService("steady");
  const paths = resolveService(service.path);
  const held = acquireLock(paths);
  try {
    const server = await servedAndReached(paths, held);
    await Deno.rename(service.path, `${service.dir}/moved`);
    await server.close();
    assert.equal(
      await Deno.lstat(`${service.dir}/moved/supervise/control`).catch(() => null),
      null,
    );
  } finally {
    releaseLock(held);
  }
});

Deno.test("serveControl closing once its directory was removed and made again leaves the new socket at its path (Deno unlinks a listener's path as it lets go of it)", async () => {
  await using service = await copyService("steady");
  const paths = resolveService(service.path);
  const held = acquireLock(paths);
  const locks = [...held.locks, held.dir.fd];
  try {
    const server = await servedAndReached(paths, held);
    await Deno.remove(service.path, { recursive: true });
    await Deno.mkdir(`${service.path}/supervise`, { recursive: true });
    // A new supervisor's socket at the same path (a listener of our own, here).
    const other = Deno.listen({ transport: "unix", path: controlPath(paths) });
    try {
      const made = await Deno.lstat(controlPath(paths));
      await server.close();
      await new Promise((resolve) => setTimeout(resolve, 50)); // anything left to let go of
      assert.equal((await Deno.lstat(controlPath(paths))).ino, made.ino, "still there");
    } finally {
      other.close();
    }
  } finally {
    locks.forEach(close);
  }
});

Deno.test("a supervisor's control socket is bound at its path, as ss and lsof show it: opsd fds --unix finds the supervisor", async () => {
  await using service = await copyService("steady");
  await using supervisor = await startSupervisor(service.path);
  const control = controlPath(supervisor.paths);
  await waitFor("the control socket", () => Deno.lstat(control).catch(() => null));
  const fds = await runOpsd(["fds", "--json", "--unix", control]);
  assert.equal(fds.code, 0, fds.stderr);
  const rows = fds.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.ok(
    rows.some((row) => row.pid === supervisor.pid && row.name.startsWith(`${control} `)),
    fds.stdout,
  );
});

Deno.test("serveControl binds a control socket whose path is too long for a socket address through its pin, and is reached", async () => {
  await using dir = await tempDir();
  const long = `${dir.path}/${"d".repeat(100)}`;
  await Deno.mkdir(long);
  await Deno.writeTextFile(`${long}/run`, "#!/bin/sh\nexec sleep 1000\n", { mode: 0o755 });
  const paths = resolveService(long);
  assert.ok(new TextEncoder().encode(controlPath(paths)).length > 107);
  const held = acquireLock(paths);
  try {
    const server = await servedAndReached(paths, held);
    await server.close();
    assert.equal(await Deno.lstat(controlPath(paths)).catch(() => null), null);
  } finally {
    releaseLock(held);
  }
});

Deno.test("exit waits until the supervisor has ended, so that a new one starts at once (exit && supervise --daemon)", async () => {
  await using service = await copyService("steady");
  await using supervisor = await startSupervisor(service.path);
  await supervisor.waitStatus("up", (s) => s.state === "up");
  const exit = await runOpsd(["exit", service.path]);
  assert.equal(exit.code, 0, exit.stderr);
  assert.match(
    exit.stdout,
    /^\S+: supervisor not running; down \d+ seconds?, killed by SIGTERM\n$/,
  );
  assert.equal(runningSupervisor(supervisor.paths), null, "its lock is released");
  await using again = await superviseInBackground([service.path]);
  assert.equal(again.code, 0, again.stderr);
  const json = await runOpsd(["exit", "--json", service.path]);
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  assert.deepEqual(report.done, ["supervisor exited"]);
  assert.deepEqual([report.state, report.supervisor.running, report.pid], ["down", false, null]);
  assert.equal(isAlive(again.pid), false, "the --daemon supervisor has exited");
  assert.equal(await exitedWithin(supervisor, 20_000), 0);
});

Deno.test("exit and down --ok-if-stopped, as a cron line: a service nothing runs is 0 (quiet with -q, its status without); one whose processes outlived a killed supervisor is still 3, naming them", async () => {
  await using service = await copyService("steady");
  await using never = await copyService("steady");
  const quiet = await runOpsd(["exit", "-q", "--ok-if-stopped", never.path]);
  assert.deepEqual([quiet.code, quiet.stdout, quiet.stderr], [0, "", ""]);
  await using supervisor = await startSupervisor(service.path);
  const up = await supervisor.waitStatus("up", (s) => s.state === "up");
  assert.equal(await supervisor.stop("SIGKILL"), 137);
  const left = await runOpsd(["exit", "-q", "--ok-if-stopped", service.path]);
  assert.equal(left.code, 3, "pid still runs: exit cannot stop it");
  assert.equal(
    left.stderr,
    `opsd exit: no supervisor running for ${service.path}, but pid ${up.pid} of the service ` +
      "still runs: stop it, or supervise the service again to have it stopped\n",
  );
  const downLeft = await runOpsd(["down", "-q", "--ok-if-stopped", service.path]);
  assert.equal(downLeft.code, 3, "down cannot stop it either");
  assert.equal(downLeft.stderr, left.stderr.replace("opsd exit", "opsd down"));
  Deno.kill(up.pid!, "SIGKILL");
  await waitFor("the service gone", () => !isAlive(up.pid!));
  const both = await runOpsd(["exit", "--ok-if-stopped", service.path, never.path]);
  assert.equal(both.code, 0, both.stderr);
  assert.equal(both.stderr, "");
  assert.match(
    both.stdout,
    new RegExp(
      `^\\S+: supervisor not running; pid ${up.pid}, recorded as running, is gone too\n` +
        "\\S+: supervisor not running; never supervised\n$",
    ),
  );
  const json = await runOpsd(["exit", "--json", "--ok-if-stopped", never.path]);
  assert.deepEqual(
    [json.code, JSON.parse(json.stdout).state, JSON.parse(json.stdout).done],
    [0, "down", []],
  );
  const downNever = await runOpsd(["down", "--ok-if-stopped", never.path]);
  assert.deepEqual([downNever.code, downNever.stdout, downNever.stderr], [
    0,
    `${never.path}: supervisor not running; never supervised\n`,
    "",
  ]);
  const plain = await runOpsd(["down", never.path]);
  assert.equal(plain.code, 3);
  assert.match(plain.stderr, /: nothing to take down here; 'opsd status \S+' says whether /);
});

Deno.test("exit run by the service's own finish returns once acknowledged: waiting for its supervisor would wait for itself", async () => {
  await using service = await copyService("finish");
  await Deno.writeTextFile(`${service.path}/exit3`, "");
  const exit = opsdArgv(["exit", service.path]).map(shellQuote).join(" ");
  await Deno.writeTextFile(
    `${service.path}/finish`,
    `#!/bin/sh\n${exit} > exit.out 2>&1\necho "$?" > exit.code\n`,
    { mode: 0o755 },
  );
  await using supervisor = await startSupervisor(service.path, ["--finish-timeout", "60s"]);
  // The first run exits 3; its finish asks the supervisor to exit, which waits for finish.
  assert.equal(await exitedWithin(supervisor, 20_000), 0);
  assert.equal(await Deno.readTextFile(`${service.path}/exit.code`), "0\n");
  assert.match(
    await Deno.readTextFile(`${service.path}/exit.out`),
    /^\S+: supervisor exiting; finishing, exited 3, want down\n$/,
  );
  assert.doesNotMatch(supervisor.output(), /finish still running/);
});

Deno.test("exit --timeout bounds the wait (6, saying what goes on); a kill then hurries an exit that waits", async () => {
  await using service = await copyService("stubborn");
  await using supervisor = await startSupervisor(service.path, ["--stop-timeout", "60s"]);
  await supervisor.waitStatus("up", (s) => s.state === "up");
  await waitFor("the trap set", () => Deno.stat(`${service.path}/started`).catch(() => null));
  // Named as given (relative here), it is named by its path: the command suggested works anywhere.
  const late = await runOpsd(["exit", "--timeout", "300ms", "stubborn"], { cwd: service.dir });
  assert.deepEqual([late.code, late.stdout], [6, ""]);
  assert.equal(
    late.stderr,
    `opsd exit: the supervisor of ${service.path} has not ended within 300 ms; it is still ` +
      `taking its services down: check with 'opsd status ${service.path}'\n`,
  );
  assert.equal(runningSupervisor(supervisor.paths), supervisor.pid);

  // A kill hurries an exit that waits: sent after it in one command (svc -xk), so that it
  // cannot end the supervisor before the exit has reached it (then exit would find none: 3).
  const ended = await runOpsd(["svc", "-xkq", service.path]);
  assert.deepEqual([ended.code, ended.stdout, ended.stderr], [0, "", ""]);
  assert.equal(runningSupervisor(supervisor.paths), null);
  assert.equal(await exitedWithin(supervisor, 20_000), 0);
});

Deno.test("exit --timeout bounds the asking too: a stopped supervisor is given that long, not 5 s (6)", async () => {
  await using service = await copyService("steady");
  await using supervisor = await startSupervisor(service.path);
  await supervisor.waitStatus("up", (s) => s.state === "up");
  Deno.kill(supervisor.pid, "SIGSTOP");
  try {
    const started = Date.now();
    const exit = await runOpsd(["exit", "--timeout", "500ms", service.path]);
    const elapsed = Date.now() - started;
    assert.equal(exit.code, 6, exit.stderr);
    assert.match(exit.stderr, /^opsd exit: the supervisor of \S+ did not answer within 0\.5 s; /);
    // An opsd run alone takes a few hundred ms on a busy machine; the 5 s ask is well above.
    assert.ok(elapsed < 4000, `given 500 ms to answer (${elapsed} ms)`);
  } finally {
    Deno.kill(supervisor.pid, "SIGCONT");
  }
});

Deno.test("control words reach every service together: a stopped supervisor delays no other", async () => {
  await using stopped = await copyService("steady");
  await using other = await copyService("steady");
  await using first = await startSupervisor(stopped.path);
  await using second = await startSupervisor(other.path);
  await first.waitStatus("up", (s) => s.state === "up");
  await second.waitStatus("up", (s) => s.state === "up");
  Deno.kill(first.pid, "SIGSTOP");
  try {
    // Asked one after the other, the second would get what is left of 1.5 s after the first.
    const exit = await runOpsd(["exit", "--timeout", "1500ms", stopped.path, other.path]);
    assert.equal(exit.code, 6, exit.stderr);
    assert.match(exit.stderr, /^opsd exit: the supervisor of \S+ did not answer within 1\.5 s; /);
    assert.match(
      exit.stdout,
      /^\S+: supervisor not running; down \d+ seconds?, killed by SIGTERM\n$/,
    );
    assert.equal(runningSupervisor(second.paths), null, "the second has ended");
  } finally {
    Deno.kill(first.pid, "SIGCONT");
  }
});

Deno.test("exit whose supervisor is killed (-9) while it waits says which of the service's processes still run (1)", async () => {
  await using service = await copyService("stubborn");
  await using supervisor = await startSupervisor(service.path, ["--stop-timeout", "60s"]);
  const up = await supervisor.waitStatus("up", (s) => s.state === "up");
  await waitFor("the trap set", () => Deno.stat(`${service.path}/started`).catch(() => null));
  const exit = runOpsd(["exit", service.path]);
  await supervisor.waitStatus("exiting", (s) => s.supervisor.exiting === "opsd exit");
  assert.equal(await supervisor.stop("SIGKILL"), 137);
  const ended = await exit;
  assert.equal(ended.code, 1);
  assert.equal(
    ended.stderr,
    `opsd exit: the supervisor of ${service.path} ended, but pid ${up.pid} of the service ` +
      "still runs: stop it, or supervise the service again to have it stopped\n",
  );
  assert.match(ended.stdout, new RegExp(`: supervisor not running; pid ${up.pid} still running`));
  assert.equal(isAlive(up.pid!), true);
});

Deno.test("exit whose supervisor is killed (-9) while its log service stops names the log service's process left running (1)", async () => {
  await using service = await copyService("steady");
  // A logger that outlives its input and ignores TERM: the supervisor waits for it to end
  // (its stop timeout), then would stop it; it is killed (-9) meanwhile.
  await Deno.mkdir(`${service.path}/log`);
  await Deno.writeTextFile(
    `${service.path}/log/run`,
    "#!/bin/sh\ntrap '' TERM\necho ready > started\ncat > /dev/null\nexec sleep 1000\n",
    { mode: 0o755 },
  );
  await Deno.writeTextFile(`${service.path}/log/opsd.conf`, "stop-timeout = 60s\n");
  await using supervisor = await startSupervisor(service.path);
  const log = await supervisor.waitStatus("log up", (s) => s.state === "up", { role: "log" });
  await waitFor("the trap set", () => Deno.stat(`${service.path}/log/started`).catch(() => null));
  const exit = runOpsd(["exit", service.path]);
  await supervisor.waitStatus("log let end", (s) => s.want === "down", { role: "log" });
  assert.equal(await supervisor.stop("SIGKILL"), 137);
  const ended = await exit;
  assert.equal(ended.code, 1, ended.stderr);
  assert.equal(
    ended.stderr,
    `opsd exit: the supervisor of ${service.path} ended, but pid ${log.pid} of the service ` +
      "still runs: stop it, or supervise the service again to have it stopped\n",
  );
  const lines = ended.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 2, ended.stdout);
  assert.match(lines[0], /^\S+: supervisor not running; down /);
  assert.match(lines[1], new RegExp(`/log: supervisor not running; pid ${log.pid} still running`));
});

Deno.test("exit of several services takes them down together, then prints each in the order named", async () => {
  await using first = await copyService("stubborn");
  await using second = await copyService("stubborn");
  // Each ignores TERM: each supervisor KILLs it after its 1.5 s stop timeout.
  const supervisors = await Promise.all(
    [first, second].map((service) => startSupervisor(service.path, ["--stop-timeout", "1500ms"])),
  );
  await using _first = supervisors[0], _second = supervisors[1];
  for (const [index, service] of [first, second].entries()) {
    await supervisors[index].waitStatus("up", (s) => s.state === "up");
    await waitFor("the trap set", () => Deno.stat(`${service.path}/started`).catch(() => null));
  }
  const started = Date.now();
  const exit = await runOpsd(["exit", first.path, second.path]);
  const elapsed = Date.now() - started;
  assert.equal(exit.code, 0, exit.stderr);
  assert.ok(elapsed >= 1400 && elapsed < 2900, `both stops overlapped (${elapsed} ms, not 3 s)`);
  const lines = exit.stdout.trimEnd().split("\n");
  assert.deepEqual(lines.map((line) => line.slice(0, line.indexOf(": "))), [
    first.path,
    second.path,
  ]);
  for (const line of lines) {
    assert.match(line, /: supervisor not running; down \d+ seconds?, killed by SIGKILL$/);
  }
});

Deno.test("control words and status to many services at once stay within the fd limit: 120 stand-in supervisors under ulimit -n 100 are each asked, none fails with EMFILE", async () => {
  await using dir = await tempDir();
  const held: StateLock[] = [], servers: ControlServer[] = [], services: string[] = [];
  try {
    for (let i = 0; i < 120; i++) {
      const service = `${dir.path}/s${i}`;
      Deno.mkdirSync(service);
      Deno.writeTextFileSync(`${service}/run`, "#!/bin/sh\nexec sleep 1000\n", { mode: 0o755 });
      const paths = resolveService(service);
      held.push(acquireLock(paths));
      servers.push(
        serveControl(
          paths,
          held.at(-1)!.dir,
          (request) => Promise.resolve({ ok: false, error: `no ${request.command} here` }),
        ),
      );
      services.push(service);
    }
    const limited = async (args: string[]) => {
      const sh = ["-c", 'ulimit -n 100 && exec "$@"', "sh", ...opsdArgv(args)];
      const { code, stderr } = await new Deno.Command("sh", { args: sh, stdout: "null" }).output();
      return { code, lines: new TextDecoder().decode(stderr).trimEnd().split("\n") };
    };
    const down = await limited(["down", "-q", ...services]);
    assert.equal(down.code, 1, "each refused, as the stand-ins answer");
    assert.deepEqual(down.lines, services.map(() => "opsd down: no down here"));
    // No status written yet: each is starting (1), its lock looked at, nothing on stderr.
    const status = await limited(["status", "-q", ...services]);
    assert.deepEqual([status.code, status.lines], [1, [""]]);
  } finally {
    for (const server of servers) await server.close();
    held.forEach(releaseLock);
  }
});

import assert from "node:assert/strict";
import { numberedFds, runOpsd, waitFor } from "../fixtures/mod.ts";
import {
  copyService,
  SERVICE_FDS,
  startSupervisor,
  superviseInBackground,
} from "../fixtures/supervise.ts";

/** The fds of `pid` below 10: a shell holds the script it reads at 10. */
async function _fdsBelow10(pid: number) {
  return (await numberedFds(pid)).filter((row) => row.fd < 10);
}

Deno.test("a service with s6's notification-fd is up but not ready until it writes a newline there; status, wait --up and --json say so", async () => {
  await using service = await copyService("notifier");
  await using supervisor = await startSupervisor(service.path);
  const up = await supervisor.waitStatus("up", (s) => s.state === "up");
  assert.deepEqual([up.notificationFd, up.ready, up.instances[0].ready], [3, null, null]);
  // Its notification-fd is the write end of a pipe, at 3, beside 0-2 and nothing else
  // (but the script the shell reads, at 10).
  assert.deepEqual(await _fdsBelow10(up.pid!), [...SERVICE_FDS, {
    fd: 3,
    type: "FIFO",
    name: "pipe",
  }]);

  const waiting = await runOpsd(["status", service.path]);
  assert.equal(waiting.code, 1, "not ready is not up for a script");
  assert.match(
    waiting.stdout,
    /: up \(pid \d+, pgid \d+\) \d+ seconds?, not ready, normally up\n$/,
  );
  const early = await runOpsd(["wait", "--up", "--timeout", "300ms", service.path]);
  assert.equal(early.code, 6, early.stderr);
  assert.match(early.stderr, /, not ready, normally up\n$/);

  const wait = runOpsd(["wait", "--up", "--timeout", "20s", service.path]);
  await Deno.writeTextFile(`${service.path}/go`, "");
  assert.equal((await wait).code, 0);
  const ready = supervisor.status()!;
  assert.ok(ready.ready !== null && ready.ready === ready.instances[0].ready);
  assert.equal(ready.pid, up.pid, "the same run");
  const status = await runOpsd(["status", service.path]);
  assert.equal(status.code, 0);
  assert.match(
    status.stdout,
    /: up \(pid \d+, pgid \d+\) \d+ seconds?, ready \d+ seconds?, normally up\n$/,
  );
  const json = JSON.parse((await runOpsd(["status", "--json", service.path])).stdout);
  assert.deepEqual([json.notificationFd, json.ready], [3, ready.ready]);
  // Having said so, it closed its end: exactly 0-2 again.
  await waitFor("fd 3 closed", async () => (await numberedFds(up.pid!)).length === 3 ? true : null);
  assert.match(supervisor.output(), /pid \d+ is ready/);
});

Deno.test("supervise --daemon returns once the service is ready; notification-fd from opsd.conf, at 5, closes 3 and 4", async () => {
  await using service = await copyService("notifier");
  await Deno.writeTextFile(`${service.path}/opsd.conf`, "notification-fd = 5\n");
  const started = Date.now();
  const go = new Promise((resolve) => setTimeout(resolve, 800)).then(async () => {
    const record = JSON.parse(await Deno.readTextFile(`${service.path}/supervise/status.json`));
    const fds = await _fdsBelow10(record.pid);
    await Deno.writeTextFile(`${service.path}/go`, "");
    return fds;
  });
  await using daemon = await superviseInBackground([service.path]);
  assert.equal(daemon.code, 0, daemon.stderr);
  assert.ok(Date.now() - started >= 700, "it waited for the readiness newline");
  assert.deepEqual(await go, [...SERVICE_FDS, { fd: 5, type: "FIFO", name: "pipe" }]);
  const status = await runOpsd(["status", service.path]);
  assert.equal(status.code, 0, status.stdout);
  assert.match(status.stdout, /, ready \d+ seconds?, /);
  assert.equal((await runOpsd(["exit", "-q", service.path])).code, 0);
});

Deno.test("supervise --daemon whose service never says it is ready stops it after --start-timeout (6), saying what it waited for", async () => {
  await using service = await copyService("notifier");
  await using daemon = await superviseInBackground(["--start-timeout", "500ms", service.path]);
  assert.equal(daemon.code, 6);
  assert.match(
    daemon.stderr,
    new RegExp(
      `did not report ready within 500 ms: stopped it; .* \\(${service.path} has ` +
        "notification-fd 3: it is ready once run writes a newline on fd 3\\)\\n$",
    ),
  );
  const status = await runOpsd(["status", service.path]);
  assert.equal(status.code, 3, "nothing left running");
});

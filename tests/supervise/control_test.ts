import assert from "node:assert/strict";
import { runOpsd, waitFor } from "../fixtures/mod.ts";
import { copyService, type RunningSupervisor, startSupervisor } from "../fixtures/supervise.ts";

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

  const exit = await runOpsd(["exit", service.path]);
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
  assert.equal((await runOpsd(["exit", "-q", service.path])).code, 0);

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

Deno.test("while its supervisor is exiting on TERM, up is refused, naming TERM", async () => {
  await using service = await copyService("stubborn");
  await using supervisor = await startSupervisor(service.path, ["--stop-timeout", "60s"]);
  await supervisor.waitStatus("up", (s) => s.state === "up");
  await waitFor("the trap set", () => Deno.stat(`${service.path}/started`).catch(() => null));
  Deno.kill(supervisor.pid, "SIGTERM");
  await supervisor.waitStatus("exiting", (s) => s.supervisor.exiting === "TERM received");

  const up = await runOpsd(["up", service.path]);
  assert.equal(up.code, 1);
  assert.equal(up.stderr, exitingRefusal("up", service.path, "TERM received"));
  assert.match(
    (await runOpsd(["status", service.path])).stdout,
    /, want down; its supervisor is exiting \(TERM received\): /,
  );
  assert.equal((await runOpsd(["kill", "-q", service.path])).code, 0);
  assert.equal(await exitedWithin(supervisor, 20_000), 0);
});

import assert from "node:assert/strict";
import { readProcStat } from "../../lib/procfs/stat.ts";
import { leftoverProcesses, mayHaveLeftovers } from "../../lib/supervise/leftovers.ts";
import type { InstanceStatus, ServiceStatus } from "../../lib/supervise/status.ts";
import { isAlive, waitFor } from "../fixtures/mod.ts";

/** A status record naming `instances`, written at `updated` by a supervisor that is gone. */
function record(instances: InstanceStatus[], updated = new Date()): ServiceStatus {
  const supervisor = { pid: 0, procStart: 0, started: "", detached: false };
  return { instances, finish: null, updated: updated.toISOString(), supervisor } as ServiceStatus;
}

/** A shell in a session of its own, marked with `id`, that leaves a sleep behind. */
async function sessionWithChild(id = ""): Promise<{ leader: Deno.ChildProcess; child: number }> {
  const leader = new Deno.Command("sh", {
    args: ["-c", "sleep 30 & echo $!; wait"],
    detached: true,
    stdout: "piped",
    env: id ? { OPSD_INSTANCE: id } : {},
  }).spawn();
  const reader = leader.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  leader.stdout.cancel();
  return { leader, child: Number(new TextDecoder().decode(value).trim()) };
}

function instance(pid: number, id = "run-1"): InstanceStatus {
  return { pid, pgid: pid, procStart: readProcStat(pid)!.startTime, started: "", id };
}

Deno.test("leftoverProcesses: a running main process, what it started, and its session", async () => {
  const { leader, child } = await sessionWithChild();
  try {
    const found = leftoverProcesses(record([instance(leader.pid)])).map((p) => p.pid);
    assert.deepEqual(found.sort(), [leader.pid, child].sort());
    assert.deepEqual(leftoverProcesses(null), []);
    // A record whose supervisor lives (a copied directory) names none of them.
    const copied = record([instance(leader.pid)]);
    copied.supervisor = {
      pid: Deno.pid,
      procStart: readProcStat(Deno.pid)!.startTime,
      started: "",
      detached: false,
    };
    assert.deepEqual(leftoverProcesses(copied), []);
  } finally {
    Deno.kill(-leader.pid, "SIGKILL");
    await leader.status;
  }
});

Deno.test("leftoverProcesses: the main process gone, the members of its session that bear its mark", async () => {
  for (const [mark, expected] of [["run-1", true], ["", false], ["run-2", false]] as const) {
    const { leader, child } = await sessionWithChild(mark);
    try {
      const recorded = instance(leader.pid, "run-1");
      leader.kill("SIGKILL");
      await leader.status; // reaped: the pid is free, the session lives on in the sleep
      assert.ok(isAlive(child));
      // Unmarked or marked by another run: a stranger whose session took over the id.
      const found = leftoverProcesses(record([recorded])).map((p) => p.pid);
      assert.deepEqual(found, expected ? [child] : [], `mark "${mark}"`);
    } finally {
      Deno.kill(child, "SIGKILL");
      await waitFor("the sleep gone", () => !isAlive(child));
    }
  }
});

Deno.test("leftoverProcesses: a record written before this boot names nothing", async () => {
  const { leader, child } = await sessionWithChild();
  try {
    const old = record([instance(leader.pid)], new Date(0));
    assert.deepEqual(leftoverProcesses(old), [], "its pids named other processes then");
  } finally {
    Deno.kill(-leader.pid, "SIGKILL");
    await leader.status;
    await waitFor("the sleep gone", () => !isAlive(child));
  }
});

Deno.test("mayHaveLeftovers: a record of this boot naming processes, its supervisor gone; nothing looked for", () => {
  const running = { pid: 1, pgid: 1, procStart: 0, started: "", id: "run-1" };
  assert.equal(mayHaveLeftovers(null), false);
  assert.equal(mayHaveLeftovers(record([])), false, "a supervisor that stopped everything");
  assert.equal(mayHaveLeftovers(record([running])), true);
  assert.equal(mayHaveLeftovers({ ...record([]), finish: running }), true, "a finish running");
  assert.equal(mayHaveLeftovers(record([running], new Date(0))), false, "before this boot");
  const copied = record([running]);
  copied.supervisor = { ...copied.supervisor, pid: Deno.pid };
  copied.supervisor.procStart = readProcStat(Deno.pid)!.startTime;
  assert.equal(mayHaveLeftovers(copied), false, "its supervisor lives (a copied directory)");
});

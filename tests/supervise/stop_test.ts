import assert from "node:assert/strict";
import { groupMembers } from "../../lib/procfs/processes.ts";
import { readProcStat } from "../../lib/procfs/stat.ts";
import { signalIfAlive } from "../../lib/process/signal.ts";
import { leftovers, newStopJob } from "../../lib/supervise/stop.ts";
import { SIGNALS } from "../../lib/sys/constants.ts";
import { waitFor } from "../fixtures/mod.ts";

/**
 * A group of its own (`setsid sleep SECONDS`) whose parent never reaps it: the
 * parent execs `sleep 30`, so once the group's process ends it stays a zombie.
 */
async function groupOfUnreapedChild(seconds: number) {
  const parent = new Deno.Command("bash", {
    args: ["-c", `setsid sleep ${seconds} & echo $!; exec sleep 30`],
    stdout: "piped",
  }).spawn();
  const reader = parent.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  await parent.stdout.cancel();
  return { parent, pgid: Number(new TextDecoder().decode(value).trim()) };
}

Deno.test("leftovers: a group of zombies its parent does not reap is gone; a living one is not", async () => {
  // Long enough for bash to exec sleep first: bash itself would reap it.
  const zombie = await groupOfUnreapedChild(1);
  const living = await groupOfUnreapedChild(30);
  try {
    await waitFor("the zombie", () => readProcStat(zombie.pgid)?.state === "Z");
    assert.equal(signalIfAlive(-zombie.pgid, 0), true, "kill(-pgid, 0) answers for a zombie");
    assert.deepEqual(groupMembers(zombie.pgid), []);
    assert.deepEqual(leftovers(newStopJob("adopted", zombie.pgid, [])), []);
    await waitFor("the group to start", () => readProcStat(living.pgid)?.pgid === living.pgid);
    assert.deepEqual(groupMembers(living.pgid), [living.pgid]);
    assert.deepEqual(leftovers(newStopJob("adopted", living.pgid, [])), [-living.pgid]);
  } finally {
    signalIfAlive(-living.pgid, SIGNALS.SIGKILL);
    for (const { parent } of [zombie, living]) {
      parent.kill("SIGKILL");
      await parent.status;
    }
  }
});

Deno.test({
  name: "leftovers: a process whose main thread exited while another runs (Z to /proc) is alive",
  ignore: !(await Deno.stat("/usr/bin/python3").catch(() => null)),
  fn: async () => {
    // Its own group; the main thread leaves with pthread_exit while a thread sleeps on.
    const script = "import threading, time, ctypes, os\n" +
      "os.setsid()\n" +
      "threading.Thread(target=time.sleep, args=(30,)).start()\n" +
      "print(os.getpid(), flush=True)\n" +
      "ctypes.CDLL(None).pthread_exit(None)\n";
    const child = new Deno.Command("python3", { args: ["-c", script], stdout: "piped" }).spawn();
    const reader = child.stdout.getReader();
    const pid = Number(new TextDecoder().decode((await reader.read()).value).trim());
    reader.releaseLock();
    try {
      const stat = await waitFor("the main thread gone", () => {
        const stat = readProcStat(pid);
        return stat?.state === "Z" ? stat : null;
      });
      assert.equal(stat.numThreads, 2);
      const job = newStopJob("ended", pid, [{ pid, procStart: stat.startTime }]);
      assert.deepEqual(leftovers(job), [-pid, pid], "stopped, not taken for gone");
      assert.deepEqual(groupMembers(pid), [pid]);
    } finally {
      signalIfAlive(-pid, SIGNALS.SIGKILL);
      await child.stdout.cancel();
      await child.status;
    }
  },
});

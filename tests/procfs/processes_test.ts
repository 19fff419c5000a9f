import assert from "node:assert/strict";
import { isAncestor } from "../../lib/procfs/processes.ts";
import { readProcStat } from "../../lib/procfs/stat.ts";

Deno.test("isAncestor: this process's parent and pid 1 are; itself and its child are not", async () => {
  const parent = readProcStat("self")!.ppid;
  assert.equal(isAncestor(parent), true);
  assert.equal(isAncestor(1), true);
  assert.equal(isAncestor(Deno.pid), false);
  const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    assert.equal(isAncestor(child.pid), false);
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});

import assert from "node:assert/strict";
import { isProcessGone } from "../../lib/procfs/gone.ts";
import { readProcStat } from "../../lib/procfs/stat.ts";

Deno.test("a /proc file of a process that exits after it was opened reads as gone (ESRCH)", async () => {
  const child = new Deno.Command("true").spawn();
  const file = Deno.openSync(`/proc/${child.pid}/stat`);
  try {
    await child.status; // reaped: the file stays open, the process is gone
    let error: unknown = null;
    try {
      file.readSync(new Uint8Array(1024));
    } catch (caught) {
      error = caught;
    }
    assert.ok(isProcessGone(error), String(error));
    assert.equal(readProcStat(child.pid), null);
  } finally {
    file.close();
  }
  // As Deno words it for a whole-file read, with the path after the reason.
  assert.ok(isProcessGone(new Error("No such process (os error 3): readfile '/proc/9638/stat'")));
  assert.equal(isProcessGone(new Error("Permission denied (os error 13)")), false);
});

import assert from "node:assert/strict";
import { ProcessReads } from "../../lib/fds/process_reads.ts";
import { readProcStat } from "../../lib/procfs/stat.ts";
import { isErrno } from "../../lib/sys/libc.ts";

Deno.test("ProcessReads reads a process's stat and program once and answers the same after", () => {
  const reads = new ProcessReads();
  const stat = reads.stat(Deno.pid);
  assert.deepEqual(stat?.comm, readProcStat(Deno.pid)?.comm);
  assert.equal(reads.stat(Deno.pid), stat); // the very same record: not read again
  const exe = Deno.readLinkSync(`/proc/${Deno.pid}/exe`);
  assert.equal(reads.programLink(Deno.pid), exe);
  assert.equal(reads.programPath(Deno.pid), exe);
});

Deno.test("ProcessReads: a process that is gone has no stat, and its program link throws ENOENT each time", () => {
  const reads = new ProcessReads();
  const gone = 2 ** 22 + 12345;
  assert.equal(reads.stat(gone), null);
  const notFound = (error: unknown) => isErrno(error, "ENOENT");
  assert.throws(() => reads.programLink(gone), notFound);
  assert.throws(() => reads.programLink(gone), notFound);
  assert.equal(reads.programPath(gone), null);
});

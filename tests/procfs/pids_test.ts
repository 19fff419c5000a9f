import assert from "node:assert/strict";
import { listPids } from "../../lib/procfs/pids.ts";
import { groupByNamespace, namespaceOf } from "../../lib/procfs/namespaces.ts";

Deno.test("listPids lists this process and pid 1, and no thread ids", () => {
  const pids = listPids();
  assert.ok(pids.includes(Deno.pid));
  assert.ok(pids.includes(1));
  assert.ok(pids.every((pid) => Number.isInteger(pid) && pid > 0));
});

Deno.test("namespaceOf and groupByNamespace: this process shares its network namespace with itself", () => {
  const own = namespaceOf("self", "net");
  assert.match(own!, /^net:\[\d+\]$/);
  const groups = groupByNamespace([Deno.pid, 2 ** 22 + 12345], "net");
  assert.deepEqual(groups.get(own!), [Deno.pid]);
  assert.equal([...groups.values()].flat().length, 1); // the gone pid is left out
});

import assert from "node:assert/strict";
import { namespaceNumber, namespaceOf } from "../../lib/procfs/namespaces.ts";

Deno.test("namespaceNumber reads the number of a namespace link, and refuses anything else", () => {
  assert.equal(namespaceNumber("net:[4026531840]"), 4026531840);
  const own = namespaceOf("self", "net");
  assert.ok(own && namespaceNumber(own) > 0, own ?? "no namespace link");
  assert.throws(() => namespaceNumber("net:"), /unexpected namespace link net:/);
});

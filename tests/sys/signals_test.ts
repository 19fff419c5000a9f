import assert from "node:assert/strict";
import { signalName, signalNumber } from "../../lib/sys/signals.ts";

Deno.test("signalNumber accepts TERM, SIGTERM, term and 15", () => {
  for (const text of ["TERM", "SIGTERM", "term", "15"]) assert.equal(signalNumber(text), 15);
  assert.throws(() => signalNumber("NOPE"), /bad signal "NOPE"/);
  assert.throws(() => signalNumber("99"), RangeError);
  assert.equal(signalName(9), "SIGKILL");
});

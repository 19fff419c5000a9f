import assert from "node:assert/strict";
import { readyFdFromEnv } from "../../lib/supervise/ready.ts";
import { READY_FD_ENV } from "../../lib/process/readiness.ts";
import { close, open, pipe2 } from "../../lib/sys/libc.ts";
import { O } from "../../lib/sys/constants.ts";

Deno.test("$OPSD_READY_FD counts only for an fd opsd was given (open, not close-on-exec)", () => {
  const [reader, writer] = pipe2(0); // as a parent hands it over: no close-on-exec
  const own = open("/dev/null", O.RDONLY | O.CLOEXEC); // as the runtime opens its own
  const saved = Deno.env.get(READY_FD_ENV);
  try {
    const cases: [string, number | null][] = [
      [String(writer), writer],
      [String(own), null],
      ["999", null],
      ["x", null],
    ];
    for (const [value, expected] of cases) {
      Deno.env.set(READY_FD_ENV, value);
      assert.equal(readyFdFromEnv(), expected, value);
    }
  } finally {
    if (saved === undefined) Deno.env.delete(READY_FD_ENV);
    else Deno.env.set(READY_FD_ENV, saved);
    close(own);
    close(reader);
    close(writer);
  }
});

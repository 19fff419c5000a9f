import assert from "node:assert/strict";
import { runOpsd } from "../fixtures/mod.ts";
import { VERSION } from "../../lib/version.ts";

Deno.test("opsd --version prints the version and exits 0", async () => {
  const run = await runOpsd(["--version"]);
  assert.equal(run.stdout.trim(), VERSION);
  assert.equal(run.code, 0);
});

Deno.test("an unknown option is a usage error: one line, a pointer to --help, exit 2", async () => {
  const run = await runOpsd(["--no-such-flag"]);
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.equal(run.stderr, "opsd: unknown option '--no-such-flag'\n(see 'opsd --help')\n");
});

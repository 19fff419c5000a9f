import assert from "node:assert/strict";
import { describeExit, waitForExit } from "../../lib/process/exit.ts";
import { spawnProgram } from "../../lib/process/spawn.ts";
import { O } from "../../lib/sys/constants.ts";
import { close, open } from "../../lib/sys/libc.ts";
import { sanitizedTest } from "../fixtures/sanitized.ts";

Deno.test("describeExit words an exit code, a signal by number or name, and a core dump", () => {
  assert.equal(describeExit({ exitCode: 1, signal: null }), "exited 1");
  assert.equal(describeExit({ exitCode: null, signal: 15 }), "killed by SIGTERM");
  assert.equal(describeExit({ exitCode: null, signal: "SIGKILL" }), "killed by SIGKILL");
  assert.equal(
    describeExit({ exitCode: null, signal: 11, core: true }),
    "killed by SIGSEGV (core dumped)",
  );
});

sanitizedTest("waitForExit gives null while the child runs, its status once it exits", async () => {
  const devNull = open("/dev/null", O.RDWR | O.CLOEXEC);
  try {
    const pid = await spawnProgram({
      argv: ["sh", "-c", "sleep 0.3; exit 3"],
      fds: [devNull, devNull, devNull],
    });
    assert.equal(await waitForExit(pid, 50), null, "still running");
    assert.deepEqual(await waitForExit(pid, 5000), {
      pid,
      exitCode: 3,
      signal: null,
      core: false,
    });
    assert.equal(await waitForExit(pid, 0), null, "not our child any more");
  } finally {
    close(devNull);
  }
});

import assert from "node:assert/strict";
import { resolveService } from "../../lib/service/paths.ts";
import { statusPath, writeStatus } from "../../lib/supervise/state.ts";
import type { ServiceStatus } from "../../lib/supervise/status.ts";
import { tempDir } from "../fixtures/mod.ts";

Deno.test("writeStatus through a state directory that fails names the status file by its path", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/run`, "#!/bin/sh\n", { mode: 0o755 });
  const paths = resolveService(dir.path);
  assert.throws(
    () => writeStatus(paths, {} as ServiceStatus, `${dir.path}/gone`),
    (error: Error) =>
      error.message === `${statusPath(paths)}: No such file or directory (os error 2)`,
  );
});

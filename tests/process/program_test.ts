import assert from "node:assert/strict";
import { resolveProgram } from "../../lib/process/program.ts";
import { tempDir } from "../fixtures/mod.ts";

Deno.test("resolveProgram: a relative PATH entry is relative to cwd, and the result is absolute", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/bin`);
  await Deno.writeTextFile(`${dir.path}/bin/tool`, "#!/bin/sh\n", { mode: 0o755 });
  assert.equal(
    resolveProgram("tool", { cwd: dir.path, searchPath: "bin" }),
    `${dir.path}/bin/tool`,
  );
  assert.equal(
    resolveProgram("tool", { cwd: `${dir.path}/bin`, searchPath: ":/usr/bin" }),
    `${dir.path}/bin/tool`,
    "an empty entry is the working directory",
  );
  assert.throws(
    () => resolveProgram("tool", { cwd: "/", searchPath: "bin" }),
    /^OpsdError: tool: not found in PATH \(bin\): check the name, or give the program's full path$/,
  );
});

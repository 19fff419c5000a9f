import assert from "node:assert/strict";
import { ExitCode, type OpsdError } from "../../lib/errors.ts";
import { programFileState, resolveProgram } from "../../lib/process/program.ts";
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

Deno.test("programFileState: executable, no execute bit, directory, FIFO and absent; resolveProgram names each", async () => {
  await using dir = await tempDir();
  const file = (name: string) => `${dir.path}/${name}`;
  await Deno.writeTextFile(file("run"), "#!/bin/sh\n", { mode: 0o755 });
  await Deno.writeTextFile(file("plain"), "#!/bin/sh\n", { mode: 0o644 });
  await Deno.mkdir(file("dir"));
  const mkfifo = await new Deno.Command("mkfifo", { args: ["-m", "755", file("fifo")] }).output();
  assert.ok(mkfifo.success);
  assert.equal(programFileState(file("run")), "executable");
  assert.equal(programFileState(file("plain")), "not executable");
  assert.equal(programFileState(file("dir")), "directory");
  assert.equal(programFileState(file("fifo")), "not a file");
  assert.equal(programFileState(file("missing")), "absent");
  assert.equal(programFileState(`${file("run")}/below`), "absent", "a path through a file");
  for (
    const [name, message] of [
      ["plain", /: not executable: make it executable \(chmod \+x /],
      ["dir", /: is a directory: name the program file in it$/],
      ["fifo", /: not a file \(a device, a FIFO, a socket\): name an executable file$/],
    ] as const
  ) {
    assert.throws(() => resolveProgram(file(name)), (error: Error) => {
      assert.match(error.message, message);
      assert.equal((error as OpsdError).exitCode, ExitCode.cannotExecute);
      return true;
    });
  }
  assert.throws(() => resolveProgram(file("missing")), (error: Error) => {
    assert.match(error.message, /missing: not found: check the path$/);
    assert.equal((error as OpsdError).exitCode, ExitCode.notFound);
    return true;
  });
});

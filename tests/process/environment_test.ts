import assert from "node:assert/strict";
import { environmentFile, readEnvironmentFile } from "../../lib/process/environment.ts";
import { getCloexec } from "../../lib/sys/libc.ts";

Deno.test("environmentFile and readEnvironmentFile carry any value across, the fd closed after reading", () => {
  const env = { A: "1", EQUALS: "a=b=c", LINES: "one\ntwo", EMPTY: "", WIDE: "é✓".repeat(40_000) };
  const fd = environmentFile(env);
  assert.ok(getCloexec(fd), "close-on-exec until given to a child");
  assert.deepEqual(readEnvironmentFile(fd), env);
  assert.throws(() => getCloexec(fd), /EBADF/);
});

Deno.test("startEnvironment is what the process was started with, not what Deno made of it", async () => {
  // With no node in PATH, Deno puts a directory of its own in front of its PATH.
  const module = new URL("../../lib/process/environment.ts", import.meta.url).href;
  const script = `import { startEnvironment } from "${module}";
    console.log(JSON.stringify([startEnvironment()]));`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", script],
    clearEnv: true,
    env: { PATH: "/opsd-nowhere", B: "x=y" },
    stderr: "inherit",
  }).output();
  const [start, denoPath] = JSON.parse(new TextDecoder().decode(output.stdout));
  assert.deepEqual(start, { PATH: "/opsd-nowhere", B: "x=y" });
  assert.notEqual(
    denoPath,
    "/opsd-nowhere",
    "Deno changed its PATH (else this test proves nothing)",
  );
});

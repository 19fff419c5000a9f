import assert from "node:assert/strict";
import { opsdArgv } from "../../lib/self.ts";

/** Runs `opsd ARGS` with stderr a pipe nobody reads (its reader closed at once); its exit code. */
async function withStderrClosed(args: string[]): Promise<number> {
  const [program, ...rest] = opsdArgv(args);
  const child = new Deno.Command(program, { args: rest, stdout: "null", stderr: "piped" }).spawn();
  await child.stderr.cancel();
  return (await child.status).code;
}

/** Runs `opsd ARGS` with stderr on /dev/full (every write fails, ENOSPC); its exit code. */
async function withStderrFull(args: string[]): Promise<number> {
  const argv = opsdArgv(args);
  const sh = ["-c", 'exec "$@" 2>/dev/full', "sh", ...argv];
  return (await new Deno.Command("sh", { args: sh, stdout: "null", stderr: "null" }).output()).code;
}

Deno.test("a stderr nobody can read loses the message, never the exit code (it was 0 on a closed pipe)", async () => {
  for (const run of [withStderrClosed, withStderrFull]) {
    assert.equal(await run(["status", "/opsd-no-such-service"]), 2, run.name);
    assert.equal(await run(["daemon", "--", "/opsd-no-such-program"]), 127, run.name);
    assert.equal(await run([]), 2, `${run.name}: help on stderr`);
  }
});

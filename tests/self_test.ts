import assert from "node:assert/strict";
import { opsdArgv } from "../lib/self.ts";
import { resolveService } from "../lib/service/paths.ts";
import { readStatus } from "../lib/supervise/state.ts";
import { bundleOpsd } from "../scripts/bundle.ts";
import { isAlive, tempDir, waitFor } from "./fixtures/mod.ts";
import { copyService, killGroup } from "./fixtures/supervise.ts";

Deno.test("opsdArgv from source runs main.ts with every permission", () => {
  const argv = opsdArgv(["status", "x"]);
  assert.equal(argv[0], Deno.execPath());
  assert.deepEqual(argv.slice(1, 4), ["run", "--allow-all", "--quiet"]);
  assert.ok(argv.at(-3)!.endsWith("/main.ts"));
  assert.deepEqual(argv.slice(-2), ["status", "x"]);
});

Deno.test("the split bundle starts itself again from its entry, not from the chunk that asks (supervise --daemon)", async () => {
  await using dir = await tempDir();
  await using service = await copyService("steady");
  // A space in its path: the entry is a file URL, whose path is percent-encoded.
  const bundle = await bundleOpsd(`${dir.path}/opsd bundle`);
  const opsd = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", bundle, ...args],
      stdin: "null",
    }).output();
  const started = await opsd("supervise", "--daemon", "--print-pid", service.path);
  const decoder = new TextDecoder();
  assert.equal(started.code, 0, decoder.decode(started.stderr));
  const pid = Number(decoder.decode(started.stdout).trim());
  try {
    const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    assert.ok(argv.includes(bundle), argv.join(" "));
    const status = await opsd("status", "--json", service.path);
    assert.equal(JSON.parse(decoder.decode(status.stdout)).state, "up");
    const exited = await opsd("exit", service.path);
    assert.equal(exited.code, 0, decoder.decode(exited.stderr));
    await waitFor("the supervisor to exit", () => !isAlive(pid));
  } finally {
    const left = readStatus(resolveService(service.path));
    if (isAlive(pid)) Deno.kill(pid, "SIGKILL");
    for (const instance of left?.instances ?? []) killGroup(instance.pgid);
  }
});

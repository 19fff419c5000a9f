import assert from "node:assert/strict";
import { unrefDelay } from "../lib/unref_delay.ts";

Deno.test("unrefDelay resolves after about its delay (0 and negative: at once)", async () => {
  const keepAlive = setTimeout(() => {}, 10_000); // the delay itself keeps nothing running
  try {
    const start = performance.now();
    await unrefDelay(50);
    const took = performance.now() - start;
    assert.ok(took >= 45 && took < 5000, `${took} ms`);
    await unrefDelay(0);
    await unrefDelay(-5);
  } finally {
    clearTimeout(keepAlive);
  }
});

Deno.test("a pending unrefDelay keeps no process alive; it fires while something else does", async () => {
  const script = (keep: string) =>
    `import { unrefDelay } from ${
      JSON.stringify(new URL("../lib/unref_delay.ts", import.meta.url).href)
    };
     unrefDelay(${keep ? 100 : 10_000}).then(() => console.log("fired"));
     ${keep}`;
  const run = async (keep: string) => {
    const start = performance.now();
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["eval", script(keep)],
    }).output();
    return {
      fired: new TextDecoder().decode(stdout).includes("fired"),
      took: performance.now() - start,
    };
  };
  const alone = await run("");
  assert.equal(alone.fired, false);
  assert.ok(alone.took < 5000, `${alone.took} ms`);
  const kept = await run("await new Deno.Command('sleep', { args: ['0.5'] }).output();");
  assert.equal(kept.fired, true);
});

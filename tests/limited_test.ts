import assert from "node:assert/strict";
import { mapLimited } from "../lib/limited.ts";

Deno.test("mapLimited keeps at most `limit` tasks pending, starts the next as one ends, and keeps the order", async () => {
  let pending = 0, most = 0;
  const delays = [30, 5, 20, 1, 10, 1, 15];
  const results = await mapLimited(delays, 3, async (ms) => {
    most = Math.max(most, ++pending);
    await new Promise((resolve) => setTimeout(resolve, ms));
    pending--;
    return ms * 2;
  });
  assert.deepEqual(results, delays.map((ms) => ms * 2));
  assert.equal(most, 3);
  assert.deepEqual(await mapLimited([], 3, () => Promise.resolve(1)), []);
  await assert.rejects(
    mapLimited([1, 2], 1, (n) => n === 2 ? Promise.reject(new Error("two")) : Promise.resolve(n)),
    /two/,
  );
});

Deno.test("mapLimited starts no task once one has failed, and runs one at a time for a limit below 1", async () => {
  const started: number[] = [];
  await assert.rejects(
    mapLimited([1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      await new Promise((resolve) => setTimeout(resolve, 10));
      if (n === 1) throw new Error("one");
      return n;
    }),
    /one/,
  );
  // Let any worker still going take its next item, as it did before the fix.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(started, [1, 2], "nothing started after the rejection");
  assert.deepEqual(await mapLimited([1, 2], 0, (n) => Promise.resolve(n * 3)), [3, 6]);
});

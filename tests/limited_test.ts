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

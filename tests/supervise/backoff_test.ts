import assert from "node:assert/strict";
import { restartDelay } from "../../lib/supervise/backoff.ts";

const settings = { restartDelay: 100, restartDelayMax: 30_000 };

Deno.test("restartDelay: none after a stable run, then doubling per quick death, capped", () => {
  const middle = () => 0.5; // no jitter
  assert.equal(restartDelay(0, settings, middle), 0);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((n) => restartDelay(n, settings, middle)),
    [100, 200, 400, 800, 1600],
  );
  assert.equal(restartDelay(20, settings, middle), 30_000);
  assert.equal(restartDelay(1000, settings, middle), 30_000, "no overflow");
});

Deno.test("restartDelay: jitter stays within ±20% and never passes the cap", () => {
  assert.equal(restartDelay(1, settings, () => 0), 80);
  assert.equal(restartDelay(1, settings, () => 1), 120);
  assert.equal(restartDelay(20, settings, () => 1), 30_000);
  assert.equal(restartDelay(20, settings, () => 0), 24_000);
});

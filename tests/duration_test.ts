import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "../lib/duration.ts";

Deno.test("parseDuration reads ms, s, m, h and bare seconds", () => {
  assert.equal(parseDuration("100ms"), 100);
  assert.equal(parseDuration("2.5s"), 2500);
  assert.equal(parseDuration("1m"), 60_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("30"), 30_000);
  assert.throws(
    () => parseDuration("soon"),
    /bad duration "soon": expected a number with ms, s, m or h/,
  );
});

Deno.test("formatDuration keeps one decimal under ten seconds", () => {
  assert.equal(formatDuration(850), "850 ms");
  assert.equal(formatDuration(3200), "3.2 s");
  assert.equal(formatDuration(73_400), "73 s");
});

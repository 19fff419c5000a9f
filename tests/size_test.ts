import assert from "node:assert/strict";
import { formatSize, parseSize } from "../lib/size.ts";

Deno.test("formatSize writes a size in the largest unit that divides it, and parseSize reads it back", () => {
  const cases: [number, string][] = [
    [0, "0"],
    [400, "400"],
    [4096, "4k"],
    [65536, "64k"],
    [1536, "1536"],
    [1 << 20, "1M"],
    [1 << 30, "1G"],
    [3 * 2 ** 30, "3G"],
  ];
  for (const [bytes, text] of cases) {
    assert.equal(formatSize(bytes), text);
    assert.equal(parseSize(text), bytes);
  }
});

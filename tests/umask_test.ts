import assert from "node:assert/strict";
import { parseUmask } from "../lib/umask.ts";

Deno.test("parseUmask reads octal masks from 000 to 777, with or without a leading 0", () => {
  assert.equal(parseUmask("022"), 0o022);
  assert.equal(parseUmask("0027"), 0o027);
  assert.equal(parseUmask("7"), 0o007);
  assert.equal(parseUmask("777"), 0o777);
  assert.equal(parseUmask(" 077 "), 0o077);
});

Deno.test("parseUmask refuses what is no mask, saying what it expected", () => {
  for (const text of ["", "999", "0999", "1777", "00022", "0o22", "22x", "-1"]) {
    assert.throws(() => parseUmask(text), {
      name: "RangeError",
      message: "expected an octal mask from 000 to 777, such as 022 or 027",
    }, text);
  }
});

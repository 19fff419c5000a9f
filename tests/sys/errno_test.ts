import assert from "node:assert/strict";
import { errorCode, SysError } from "../../lib/sys/errno.ts";

Deno.test("errorCode names the errno behind SysErrors and Deno's file errors, with or without a code", () => {
  assert.equal(errorCode(new SysError("open", 13, "Permission denied")), "EACCES");
  assert.equal(errorCode(new Deno.errors.NotFound("x")), "ENOENT");
  let full: unknown;
  try {
    Deno.writeTextFileSync("/dev/full", "x");
  } catch (error) {
    full = error;
  }
  assert.equal(errorCode(full), "ENOSPC");
  // Deno gives some errors no code: the number in the message tells.
  assert.equal(errorCode(new Error("File too large (os error 27): writefile '/x'")), "EFBIG");
  assert.equal(errorCode(new Error("something else")), null);
  assert.equal(errorCode("not an error"), null);
});

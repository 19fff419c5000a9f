import assert from "node:assert/strict";
import { errorReason, fileError } from "../lib/file_error.ts";
import { SysError } from "../lib/sys/errno.ts";
import { ExitCode, exitCodeOf } from "../lib/errors.ts";

Deno.test("fileError: a read-only file system is exit 4 with what to do", () => {
  const error = fileError("open --log", "/srv/app.log", new SysError("open", 30, "Read-only"));
  assert.equal(exitCodeOf(error), ExitCode.permission);
  assert.match(error.message, /^cannot open --log \/srv\/app\.log: read-only file system: /);
});

Deno.test("errorReason: Deno's error without its paths, in opsd's errno words", () => {
  assert.equal(
    errorReason(
      new Error("No space left on device (os error 28): write '/proc/self/fd/7/current'"),
    ),
    "ENOSPC (no space left on device)",
  );
  assert.equal(
    errorReason(
      new Deno.errors.PermissionDenied("Permission denied (os error 13): rename 'a' -> 'b'"),
    ),
    "EACCES (permission denied)",
  );
  assert.equal(errorReason(new Error("something else: open '/x'")), "something else");
});

import assert from "node:assert/strict";
import { fileError } from "../lib/file_error.ts";
import { SysError } from "../lib/sys/errno.ts";
import { ExitCode, exitCodeOf } from "../lib/errors.ts";

Deno.test("fileError: a read-only file system is exit 4 with what to do", () => {
  const error = fileError("open --log", "/srv/app.log", new SysError("open", 30, "Read-only"));
  assert.equal(exitCodeOf(error), ExitCode.permission);
  assert.match(error.message, /^cannot open --log \/srv\/app\.log: read-only file system: /);
});

import assert from "node:assert/strict";
import { tableLines } from "../../lib/text/table.ts";

Deno.test("tableLines aligns text left and numbers right, and never pads the last column", () => {
  const lines = tableLines(
    [{ header: "COMMAND" }, { header: "PID", align: "right" }, { header: "NAME" }],
    [["sleep", "7", "/a b"], ["python3", "12345", "x"]],
  );
  assert.deepEqual(lines, [
    "COMMAND   PID NAME",
    "sleep       7 /a b",
    "python3 12345 x",
  ]);
});

import assert from "node:assert/strict";
import { runOpsd } from "../fixtures/mod.ts";

const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));

Deno.test("the README gives `opsd daemon status`'s exit codes as its --help does, the cause of a foreign lock and its remedy too", async () => {
  const help = await runOpsd(["daemon", "status", "--help"]);
  assert.equal(help.code, 0);
  const text = help.stdout.replace(/\s+/g, " ");
  const codes = /Exit codes: (.*)\. $/.exec(text);
  assert.ok(codes, help.stdout);
  const row = /^\| `opsd daemon status` +\| (.*?) +\|$/m.exec(readme);
  assert.ok(row, "the README's exit code row for opsd daemon status");
  assert.equal(row[1], codes[1]);
  const cause = "Most often the program put itself in the background (forked, started a " +
    "session of its own and exited): its child keeps the lock while the pid in the file has " +
    "exited; run it in the foreground instead, with its no-daemonize option";
  assert.ok(text.includes(cause), "--help");
  assert.ok(readme.replace(/\s+/g, " ").includes(cause), "README");
});

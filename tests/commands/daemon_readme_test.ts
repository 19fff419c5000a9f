import assert from "node:assert/strict";
import { runOpsd } from "../fixtures/mod.ts";

const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));

/** The exit codes `opsd ARGS --help` states, on one line. */
async function helpExitCodes(args: string[]): Promise<{ codes: string; text: string }> {
  const help = await runOpsd([...args, "--help"]);
  assert.equal(help.code, 0);
  const text = help.stdout.replace(/\s+/g, " ");
  const codes = /Exit codes: (.*)\. $/.exec(text);
  assert.ok(codes, help.stdout);
  return { codes: codes[1], text };
}

Deno.test("the README gives each daemon command's exit codes as its --help does", async () => {
  const rows = { "opsd daemon -- CMD": ["daemon"], "opsd daemon stop": ["daemon", "stop"] };
  for (const [label, args] of Object.entries(rows)) {
    const row = new RegExp(`^\\| \`${label}\` +\\| (.*?) +\\|$`, "m").exec(readme);
    assert.ok(row, `the README's exit code row for ${label}`);
    assert.equal(row[1], (await helpExitCodes(args)).codes, label);
  }
});

Deno.test("the README gives `opsd daemon status`'s exit codes as its --help does, the cause of a foreign lock and its remedy too", async () => {
  const { codes, text } = await helpExitCodes(["daemon", "status"]);
  const row = /^\| `opsd daemon status` +\| (.*?) +\|$/m.exec(readme);
  assert.ok(row, "the README's exit code row for opsd daemon status");
  assert.equal(row[1], codes);
  const cause = "Most often the program put itself in the background (forked, started a " +
    "session of its own and exited): its child keeps the lock while the pid in the file has " +
    "exited; run it in the foreground instead, with its no-daemonize option";
  assert.ok(text.includes(cause), "--help");
  assert.ok(readme.replace(/\s+/g, " ").includes(cause), "README");
});

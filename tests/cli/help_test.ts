import assert from "node:assert/strict";
import { renderHelp } from "../../lib/cli/help.ts";
import { defineCommand } from "../../lib/cli/spec.ts";

const command = defineCommand({
  name: "wait",
  summary: "wait until services are up",
  description: "Wait until every SERVICE is up. ".repeat(4).trim() +
    "\n\n  a table line stays as it is",
  operands: [{ name: "services", help: "service directories", required: true, variadic: true }],
  options: {
    up: { help: "wait until each is up" },
    timeout: {
      short: "t",
      value: "duration",
      help: "give up after this long; 0 waits forever, which is what scripts that must not " +
        "give up want",
      default: 10_000,
      defaultText: "10s",
    },
    secret: { value: "fd", help: "plumbing", hidden: true },
  },
  after: "\nExit codes: 0 reached.",
  run: () => 0,
});

Deno.test("help: usage, wrapped description, operands, options with defaults, then the notes", () => {
  assert.equal(
    renderHelp(command, ["opsd", "wait"]),
    `Usage: opsd wait [options] <services...>

Wait until every SERVICE is up. Wait until every SERVICE is up. Wait until every
SERVICE is up. Wait until every SERVICE is up.

  a table line stays as it is

Arguments:
  services  service directories

Options:
  --up                      wait until each is up
  -t, --timeout <duration>  give up after this long; 0 waits forever, which is
                            what scripts that must not give up want (default:
                            10s)
  -h, --help                display help for command

Exit codes: 0 reached.
`,
  );
});

Deno.test("help of a command with commands beneath lists them with their summaries", () => {
  const root = defineCommand({
    name: "opsd",
    summary: "opsd",
    description: "Run services well.",
    version: "1",
    commands: [command],
  });
  const help = renderHelp(root, ["opsd"]);
  assert.match(help, /^Usage: opsd \[options\] \[command\]\n/);
  assert.ok(help.includes("\n  -V, --version  print the version\n"));
  assert.ok(help.includes("\nCommands:\n  wait  wait until services are up\n"));
});

Deno.test("help notes: prose runs together and wraps; a wide table row wraps its last column", () => {
  const notes = defineCommand({
    name: "x",
    summary: "x",
    description: "X.",
    options: {},
    after: `
Examples:
  opsd x /srv/web                          a description that is far too long to fit in eighty
  opsd x --with-a-very-long-option-name /srv/web/and/a/long/path  and a description too
  opsd x --only-one-column-that-is-long --so-it-is-left-as-it-is /srv/web/and/more

Restarts: a run shorter than stable-after is a quick death,
and this line, written short in the source, joins it.

A blank line starts a paragraph.`,
    run: () => 0,
  });
  const help = renderHelp(notes, ["opsd", "x"]);
  assert.equal(
    help.slice(help.indexOf("Examples:")),
    `Examples:
  opsd x /srv/web                          a description that is far too long to
                                           fit in eighty
  opsd x --with-a-very-long-option-name /srv/web/and/a/long/path
      and a description too
  opsd x --only-one-column-that-is-long --so-it-is-left-as-it-is /srv/web/and/more

Restarts: a run shorter than stable-after is a quick death, and this line,
written short in the source, joins it.

A blank line starts a paragraph.
`,
  );
});

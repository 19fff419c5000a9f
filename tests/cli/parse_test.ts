import assert from "node:assert/strict";
import { CommandLineError } from "../../lib/cli/error.ts";
import { parseArgv } from "../../lib/cli/parse.ts";
import { defineCommand } from "../../lib/cli/spec.ts";
import { intValue, listValue, nonEmptyValue } from "../../lib/cli/values.ts";

const run = () => 0;
const stop = defineCommand({
  name: "stop",
  summary: "stop it",
  description: "Stop it.",
  options: { pidfile: { value: "file", help: "its pidfile", required: true } },
  run,
});
const daemon = defineCommand({
  name: "daemon",
  summary: "start a daemon",
  description: "Start one.",
  operands: [{ name: "command", help: "CMD", variadic: true }],
  options: {
    log: { value: "file", help: "log here" },
    json: { help: "as JSON" },
    pidfile: { value: "file", help: "its pidfile" },
  },
  passThrough: true,
  commands: [stop],
  run,
});
const tail = defineCommand({
  name: "tail",
  summary: "tail",
  description: "Tail.",
  operands: [{ name: "service", help: "a service", required: true }],
  options: {
    follow: { short: "f", help: "follow" },
    quiet: { short: "q", help: "quiet" },
    lines: { short: "n", value: "n", help: "lines", parse: intValue(0), default: 10 },
    port: { value: "port", help: "a port", parse: intValue(1, 65535), repeat: true },
    leakAge: { value: "duration", help: "age" },
    grep: { value: "text", help: "lines with TEXT", parse: nonEmptyValue("some text") },
  },
  run,
});
const svc = defineCommand({
  name: "svc",
  summary: "svc",
  description: "Svc.",
  operands: [{ name: "letters", help: "letters", required: true, variadic: true }],
  options: { quiet: { short: "q", help: "quiet" } },
  unknownOptionsAreOperands: true,
  run,
});
const root = defineCommand({
  name: "opsd",
  summary: "opsd",
  description: "Root.",
  version: "1.2.3",
  commands: [daemon, tail, svc],
});

function parsed(argv: string[]) {
  const result = parseArgv(root, argv);
  assert.equal(result.kind, "run");
  return result as Extract<typeof result, { kind: "run" }>;
}

function failure(argv: string[]): CommandLineError {
  try {
    parseArgv(root, argv);
  } catch (error) {
    assert.ok(error instanceof CommandLineError);
    return error;
  }
  throw new Error(`${argv.join(" ")} parsed`);
}

Deno.test("options are read in every getopt spelling, before and after operands", () => {
  for (
    const argv of [
      ["tail", "-f", "-n", "5", "web"],
      ["tail", "web", "-fn5"],
      ["tail", "--follow", "--lines=5", "web"],
      ["tail", "-fn", "5", "web"],
    ]
  ) {
    const result = parsed(argv);
    assert.deepEqual(result.path, ["opsd", "tail"]);
    assert.deepEqual(result.operands, ["web"]);
    assert.deepEqual(result.options, { follow: true, lines: 5, port: [] }, argv.join(" "));
  }
});

Deno.test("defaults, repeated options, kebab-case names and -- are honoured", () => {
  const result = parsed(["tail", "--port", "80", "--port=443", "--leak-age", "1m", "--", "-web"]);
  assert.deepEqual(result.options, { port: [80, 443], leakAge: "1m", lines: 10 });
  assert.deepEqual(result.operands, ["-web"]);
});

Deno.test("a pass-through command takes everything after its first operand as operands", () => {
  const result = parsed(["daemon", "--log", "x", "sleep", "--json", "5"]);
  assert.deepEqual(result.options, { log: "x" });
  assert.deepEqual(result.operands, ["sleep", "--json", "5"]);
});

Deno.test("the first operand names a command beneath, except after --", () => {
  assert.deepEqual(parsed(["daemon", "stop", "--pidfile", "p"]).path, ["opsd", "daemon", "stop"]);
  const literal = parsed(["daemon", "--", "stop", "--pidfile", "p"]);
  assert.deepEqual(literal.path, ["opsd", "daemon"]);
  assert.deepEqual(literal.operands, ["stop", "--pidfile", "p"]);
});

Deno.test("a CMD word close to a command beneath is refused as a typo, unless -- comes first", () => {
  const cases: [string, string[]][] = [
    ["stpo", ["daemon", "stpo"]],
    ["sto", ["daemon", "--log", "L", "sto"]],
  ];
  for (const [word, argv] of cases) {
    const error = failure(argv);
    assert.deepEqual([error.message, error.path], [
      `unknown command '${word}' (did you mean 'opsd daemon stop'?): to run a program named ` +
      `${word}, put -- before it`,
      ["opsd", "daemon"],
    ]);
  }
  assert.deepEqual(parsed(["daemon", "--", "stpo"]).operands, ["stpo"]);
  assert.deepEqual(parsed(["daemon", "sleep", "stop"]).operands, ["sleep", "stop"]);
});

Deno.test("unknown options are operands where the command says so, and -h is not help there", () => {
  const result = parsed(["svc", "-du", "-q", "-h", "web"]);
  assert.deepEqual(result.operands, ["-du", "-h", "web"]);
  assert.deepEqual(result.options, { quiet: true });
  // -- is passed on, so that the command can tell a name starting with a dash from letters.
  assert.deepEqual(parsed(["svc", "-d", "--", "-web", "--"]).operands, ["-d", "--", "-web", "--"]);
});

Deno.test("help, version, and no command", () => {
  assert.deepEqual(parseArgv(root, ["--version"]), { kind: "version", version: "1.2.3" });
  const help = parseArgv(root, ["tail", "-h"]);
  assert.equal(help.kind === "help" && help.asked && help.command.name, "tail");
  const none = parseArgv(root, []);
  assert.equal(none.kind === "help" && none.asked, false);
});

Deno.test("bad command lines fail with one line naming the problem and the command", () => {
  const cases: [string[], string, string][] = [
    [["nope"], "opsd", "unknown command 'nope'"],
    [["tail", "--tiemout", "web"], "opsd tail", "unknown option '--tiemout'"],
    [["tail", "--folow", "web"], "opsd tail", "unknown option '--folow' (did you mean --follow?)"],
    [["tail", "-x", "web"], "opsd tail", "unknown option '-x'"],
    [["tail", "web", "--lines"], "opsd tail", "option '--lines <n>' needs a value"],
    [
      ["tail", "web", "-n", "many"],
      "opsd tail",
      "-n: bad value 'many': expected a whole number, 0 or more",
    ],
    [
      ["tail", "web", "--lines=many"],
      "opsd tail",
      "--lines: bad value 'many': expected a whole number, 0 or more",
    ],
    [
      ["tail", "web", "--grep", ""],
      "opsd tail",
      "--grep: bad value '': expected some text, not an empty string (an unset variable?)",
    ],
    [["tail", "--follow=yes", "web"], "opsd tail", "option '--follow' takes no value"],
    [["tail"], "opsd tail", "missing required argument 'service'"],
    [["tail", "a", "b"], "opsd tail", "too many arguments: expected service, got 'b'"],
    [["daemon", "stop"], "opsd daemon stop", "required option '--pidfile <file>' not given"],
  ];
  for (const [argv, path, message] of cases) {
    const error = failure(argv);
    assert.equal(error.message, message, argv.join(" "));
    assert.equal(error.path?.join(" "), path);
  }
});

Deno.test("help and version win wherever they are asked for, also in a cluster or after a bad option", () => {
  for (const argv of [["tail", "-fh", "web"], ["tail", "--bogus", "--help"], ["nope", "-h"]]) {
    assert.equal(parseArgv(root, argv).kind, "help", argv.join(" "));
  }
  assert.equal(parseArgv(root, ["-Vh"]).kind, "version");
  assert.throws(() => parseArgv(root, ["tail", "--bogus", "--", "--help"]), CommandLineError);
});

Deno.test("svc-style letters clustered after a known flag stay letters", () => {
  const result = parsed(["svc", "-qd", "web"]);
  assert.deepEqual(result.options, { quiet: true });
  assert.deepEqual(result.operands, ["-d", "web"]);
});

Deno.test("options before a command's name go to that command when it has them", () => {
  const result = parsed(["daemon", "--pidfile", "p", "stop"]);
  assert.deepEqual(result.path, ["opsd", "daemon", "stop"]);
  assert.deepEqual(result.options, { pidfile: "p" });
  assert.equal(
    failure(["daemon", "--log", "x", "stop", "--pidfile", "p"]).message,
    "option '--log <file>' is not an option of 'stop'",
  );
});

Deno.test("-- before a command's name still names it where the command has no action", () => {
  assert.deepEqual(parsed(["--", "tail", "web"]).path, ["opsd", "tail"]);
});

Deno.test("suggestions: misspelt and shortened options, misspelt commands, whole clusters", () => {
  assert.equal(failure(["tal", "web"]).message, "unknown command 'tal' (did you mean tail?)");
  assert.equal(
    failure(["tail", "--lin", "5", "web"]).message,
    "unknown option '--lin' (did you mean --lines?)",
  );
  assert.equal(
    failure(["tail", "-follow", "web"]).message,
    "unknown option '-follow' (did you mean --follow?)",
  );
  assert.equal(failure(["tail", "-fx", "web"]).message, "unknown option '-x' in '-fx'");
});

Deno.test("listValue reads a comma-separated list with its item parser; an empty item is refused", () => {
  const pids = listValue<number>(intValue(1));
  assert.deepEqual(pids("7"), [7]);
  assert.deepEqual(pids("7,8,9"), [7, 8, 9]);
  for (const text of ["", "7,", ",7", "7,,8", "7,x"]) {
    assert.throws(() => pids(text), /expected a whole number/, text);
  }
});

/**
 * Reading argv against a command tree, the way getopt_long and commander read
 * it: `--name value`, `--name=value`, `-p value`, `-pvalue`, clustered flags
 * (`-fq`), options before and after operands (unless the command passes options
 * through), `--` ends options, and the first operand of a command with commands
 * beneath names one of them.
 *
 * @module
 */

import { type CliCommand, longName, optionLabel, type OptionSpec } from "./spec.ts";

/** What argv asks for. */
export type Parsed =
  /** Run `command` (named by `path`, `["opsd", "daemon", "stop"]`). */
  | {
    kind: "run";
    path: string[];
    command: CliCommand;
    options: Record<string, unknown>;
    operands: string[];
  }
  /** Show `command`'s help: asked for (`--help`, exit 0), or no command named (exit 2). */
  | { kind: "help"; path: string[]; command: CliCommand; asked: boolean }
  /** Print the version. */
  | { kind: "version"; version: string };

/** A command line that cannot be read: what is wrong, and the command it was given to. */
export class ArgvError extends Error {
  constructor(message: string, readonly path: string[]) {
    super(message);
    this.name = "ArgvError";
  }
}

/** Reads `argv` (without the program name) against `root`. Throws {@linkcode ArgvError}. */
export function parseArgv(root: CliCommand, argv: string[]): Parsed {
  let command = root;
  const path = [root.name];
  let options: Record<string, unknown> = {};
  const operands: string[] = [];
  let optionsEnded = false;
  let dashDash = false;
  const fail = (message: string): never => {
    throw new ArgvError(message, path);
  };
  const set = (key: string, option: OptionSpec, text: string | undefined) => {
    if (!option.value) {
      if (text !== undefined) fail(`option '--${longName(key)}' takes no value`);
      options[key] = true;
      return;
    }
    if (text === undefined) fail(`option '${optionLabel(key, option)}' needs a value`);
    let value: unknown = text;
    try {
      if (option.parse) value = option.parse(text!);
    } catch (error) {
      fail(
        `option '${optionLabel(key, option)}' argument '${text}' is invalid. ${
          (error as Error).message
        }`,
      );
    }
    options[key] = option.repeat ? [...(options[key] as unknown[] ?? []), value] : value;
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const lenient = command.unknownOptionsAreOperands === true;
    if (optionsEnded || arg === "-" || !arg.startsWith("-")) {
      const sub = operands.length === 0 && !dashDash
        ? command.commands?.find((candidate) => candidate.name === arg)
        : undefined;
      if (sub) {
        command = sub;
        path.push(sub.name);
        options = {};
        continue;
      }
      if (!command.run && command.commands) fail(`unknown command '${arg}'`);
      operands.push(arg);
      if (command.passThrough) optionsEnded = true;
      continue;
    }
    if (arg === "--") {
      optionsEnded = dashDash = true;
      continue;
    }
    if (arg === "--help" || (arg === "-h" && !lenient)) {
      return { kind: "help", path, command, asked: true };
    }
    if (command.version !== undefined && (arg === "--version" || arg === "-V")) {
      return { kind: "version", version: command.version };
    }
    if (arg.startsWith("--")) {
      const equals = arg.indexOf("=");
      const name = arg.slice(2, equals < 0 ? undefined : equals);
      const key = Object.keys(command.options).find((candidate) => longName(candidate) === name);
      if (key === undefined) {
        if (lenient) operands.push(arg);
        else fail(`unknown option '${arg}'${_suggestion(name, command)}`);
        continue;
      }
      const option = command.options[key];
      const inline = equals < 0 ? undefined : arg.slice(equals + 1);
      set(key, option, inline ?? (option.value ? argv[++i] : undefined));
      continue;
    }
    // One or more short options: `-q`, `-fq`, `-n5`, `-n 5`.
    for (let at = 1; at < arg.length; at++) {
      const key = Object.keys(command.options).find((k) => command.options[k].short === arg[at]);
      if (key === undefined) {
        if (lenient) {
          operands.push(arg);
          break;
        }
        fail(`unknown option '-${arg[at]}'`);
      }
      const option = command.options[key!];
      if (!option.value) {
        set(key!, option, undefined);
        continue;
      }
      set(key!, option, at + 1 < arg.length ? arg.slice(at + 1) : argv[++i]);
      break;
    }
  }

  if (!command.run) return { kind: "help", path, command, asked: false };
  for (const [key, option] of Object.entries(command.options)) {
    if (options[key] !== undefined) continue;
    if (option.required) fail(`required option '${optionLabel(key, option)}' not given`);
    if (option.default !== undefined) options[key] = option.default;
    else if (option.repeat) options[key] = [];
  }
  _checkOperands(command, operands, fail);
  return { kind: "run", path, command, options, operands };
}

function _checkOperands(command: CliCommand, operands: string[], fail: (m: string) => never) {
  const specs = command.operands ?? [];
  const missing = specs.slice(operands.length).find((operand) => operand.required);
  if (missing) fail(`missing required argument '${missing.name}'`);
  if (!specs.at(-1)?.variadic && operands.length > specs.length) {
    const expected = specs.length === 0 ? "none" : specs.map((operand) => operand.name).join(", ");
    fail(
      `too many arguments: expected ${expected}, got '${operands.slice(specs.length).join(" ")}'`,
    );
  }
}

/** ` (did you mean --timeout?)` when a known long option is one or two edits away. */
function _suggestion(name: string, command: CliCommand): string {
  const known = [...Object.keys(command.options).map(longName), "help"];
  const close = known.find((candidate) =>
    _distance(name, candidate) <= Math.min(2, name.length / 3)
  );
  return close ? ` (did you mean --${close}?)` : "";
}

/** Levenshtein distance, with a swap of neighbours counting one (`tiemout`). */
function _distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

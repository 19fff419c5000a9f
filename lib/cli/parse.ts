/**
 * Reading argv against a command tree, the way getopt_long and commander read
 * it: `--name value`, `--name=value`, `-p value`, `-pvalue`, clustered flags
 * (`-fq`), options before and after operands (unless the command passes options
 * through), `--` ends options, and the first operand of a command with commands
 * beneath names one of them.
 *
 * @module
 */

import { CommandLineError } from "./error.ts";
import { type CliCommand, longName, optionLabel, type OptionSpec } from "./spec.ts";
import { describeBadValue } from "./values.ts";

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

/** Reads `argv` (without the program name) against `root`. Throws {@linkcode CommandLineError}. */
export function parseArgv(root: CliCommand, argv: string[]): Parsed {
  let command = root;
  const path = [root.name];
  const options: Record<string, unknown> = {};
  const operands: string[] = [];
  let optionsEnded = false;
  let dashDash = false;
  const fail = (message: string): never => {
    throw new CommandLineError(message, path);
  };
  const help = (): Parsed => ({ kind: "help", path, command, asked: true });
  // `typed`: the option as the command line spells it (`-p` or `--pid`), for its errors.
  const set = (key: string, option: OptionSpec, text: string | undefined, typed: string) => {
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
      fail(`${typed}: ${describeBadValue(text!, error)}`);
    }
    options[key] = option.repeat ? [...(options[key] as unknown[] ?? []), value] : value;
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const lenient = command.unknownOptionsAreOperands === true;
    // An option nobody knows is an error, unless help is asked for further on (as getopt tools do).
    const unknown = (message: string): Parsed => {
      const rest = argv.slice(i + 1);
      const end = dashDash ? 0 : rest.includes("--") ? rest.indexOf("--") : rest.length;
      const asked = rest.slice(0, end).some((word) =>
        word === "--help" || (word === "-h" && !lenient)
      );
      return asked ? help() : fail(message);
    };
    if (optionsEnded || arg === "-" || !arg.startsWith("-")) {
      // After `--`, a command with its own action takes words as operands (`daemon -- stop`).
      const sub = operands.length === 0 && !(dashDash && command.run)
        ? command.commands?.find((candidate) => candidate.name === arg)
        : undefined;
      if (sub) {
        _checkCarriedOver(options, command, sub, fail);
        command = sub;
        path.push(sub.name);
        continue;
      }
      const names = command.commands?.map((candidate) => candidate.name) ?? [];
      if (!command.run && command.commands) {
        return unknown(`unknown command '${arg}'${_suggestion(arg, names, "")}`);
      }
      // A command that runs CMD and has commands beneath (`opsd daemon`): a word close to one
      // of them is taken for a typo, not a program to start, unless `--` came first.
      const meant = operands.length === 0 && !dashDash ? _closest(arg, names) : undefined;
      if (meant) {
        fail(
          `unknown command '${arg}' (did you mean '${[...path, meant].join(" ")}'?): ` +
            `to run a program named ${arg}, put -- before it`,
        );
      }
      operands.push(arg);
      if (command.passThrough) optionsEnded = true;
      continue;
    }
    if (arg === "--") {
      optionsEnded = dashDash = true;
      // A command that reads options among its operands (svc) must see where they end.
      if (lenient) operands.push(arg);
      continue;
    }
    if (arg.startsWith("--")) {
      const equals = arg.indexOf("=");
      const name = arg.slice(2, equals < 0 ? undefined : equals);
      if (name === "help") return help();
      if (name === "version" && command.version !== undefined) {
        return { kind: "version", version: command.version };
      }
      const key = Object.keys(command.options).find((candidate) => longName(candidate) === name);
      if (key === undefined) {
        if (lenient) operands.push(arg);
        else return unknown(`unknown option '${arg}'${_longSuggestion(name, command)}`);
        continue;
      }
      const option = command.options[key];
      const inline = equals < 0 ? undefined : arg.slice(equals + 1);
      set(key, option, inline ?? (option.value ? argv[++i] : undefined), `--${name}`);
      continue;
    }
    // One or more short options: `-q`, `-fq`, `-n5`, `-n 5`; `-follow` is a long option misspelt.
    const long = Object.keys(command.options).find((key) => longName(key) === arg.slice(1));
    if (long !== undefined && arg.length > 2 && !lenient) {
      return unknown(`unknown option '${arg}' (did you mean --${arg.slice(1)}?)`);
    }
    const letters = Array.from(arg.slice(1));
    for (let at = 0; at < letters.length; at++) {
      const letter = letters[at];
      if (letter === "h" && !lenient) return help();
      if (letter === "V" && command.version !== undefined) {
        return { kind: "version", version: command.version };
      }
      const key = Object.keys(command.options).find((k) => command.options[k].short === letter);
      if (key === undefined) {
        // svc's letters: what is left of the cluster is an operand (`-qd`: quiet, then -d).
        if (lenient) operands.push(`-${letters.slice(at).join("")}`);
        else if (at === 0) return unknown(`unknown option '${arg}'`);
        else return unknown(`unknown option '-${letter}' in '${arg}'`);
        break;
      }
      const option = command.options[key];
      if (!option.value) {
        set(key, option, undefined, `-${letter}`);
        continue;
      }
      const value = at + 1 < letters.length ? letters.slice(at + 1).join("") : argv[++i];
      set(key, option, value, `-${letter}`);
      break;
    }
  }

  if (!command.run) return { kind: "help", path, command, asked: false };
  for (const [key, option] of Object.entries(command.options)) {
    if (options[key] !== undefined) continue;
    if (option.required) fail(`required option '${optionLabel(key, option)}' not given`);
    if (option.default !== undefined) options[key] = option.default;
    else if (option.repeat && option.value) options[key] = [];
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

/** ` (did you mean --timeout?)` for a misspelt or shortened long option. */
function _longSuggestion(name: string, command: CliCommand): string {
  return _suggestion(name, [...Object.keys(command.options).map(longName), "help"], "--");
}

/** ` (did you mean PREFIX + word?)` for the word of `known` {@linkcode _closest} to `given`, else nothing. */
function _suggestion(given: string, known: string[], prefix: string): string {
  const close = _closest(given, known);
  return close ? ` (did you mean ${prefix}${close}?)` : "";
}

/** The word of `known` a few edits from `given`, or that starts with it (`time` for `timeout`). */
function _closest(given: string, known: string[]): string | undefined {
  return known.find((word) => given.length >= 2 && word.startsWith(given)) ??
    known.find((word) => _distance(given, word) <= Math.max(1, Math.min(3, word.length / 3)));
}

/**
 * Options given before a command's name stay given for that command: each must
 * be one of its options too (`opsd daemon --pidfile p stop`), else it is an error.
 */
function _checkCarriedOver(
  given: Record<string, unknown>,
  from: CliCommand,
  to: CliCommand,
  fail: (message: string) => never,
): void {
  for (const key of Object.keys(given)) {
    const option = to.options[key];
    if (!option || Boolean(option.value) !== Boolean(from.options[key].value)) {
      fail(`option '${optionLabel(key, from.options[key])}' is not an option of '${to.name}'`);
    }
  }
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

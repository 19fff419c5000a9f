/**
 * Plumbing every command shares: running the command tree with opsd's exit codes,
 * one-line error messages, option value parsers, and writing output.
 *
 * @module
 */

import { type Command, CommanderError, InvalidArgumentError } from "@commander-js/extra-typings";
import { ExitCode, exitCodeOf } from "../lib/errors.ts";
import { parseDuration } from "../lib/duration.ts";

// deno-lint-ignore no-explicit-any
type AnyCommand = Command<any, any, any>;

/**
 * Parses `argv` against `program` and runs the chosen action, then exits: with the
 * code the action returned, 2 on a usage error (after one line on stderr ending in
 * a pointer to --help; also when no command is given, after the help), or the
 * error's own code after one line `opsd CMD: message`.
 */
export async function runCli(program: AnyCommand, argv: string[]): Promise<never> {
  let prefix = program.name();
  _configure(program);
  program.hook("preAction", (_root, action) => {
    prefix = _path(action);
  });
  try {
    await program.parseAsync(argv, { from: "user" });
    Deno.exit(typeof Deno.exitCode === "number" ? Deno.exitCode : ExitCode.ok);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help asked for (--help, --version) is a success; help shown because no
      // command was given (commander's exitCode 1) is a usage error.
      const asked = error.code === "commander.helpDisplayed" ||
        error.code === "commander.version" ||
        (error.code === "commander.help" && error.exitCode === 0);
      Deno.exit(asked ? ExitCode.ok : ExitCode.usage);
    }
    const message = error instanceof Error ? error.message : String(error);
    _writeAll(Deno.stderr, `${prefix}: ${message}\n`);
    if (Deno.env.get("OPSD_DEBUG") && error instanceof Error) {
      _writeAll(Deno.stderr, `${error.stack}\n`);
    }
    Deno.exit(exitCodeOf(error));
  }
}

function _configure(command: AnyCommand): void {
  const path = _path(command);
  command
    .exitOverride()
    .configureOutput({
      writeOut: (text) => _writeAll(Deno.stdout, text),
      writeErr: (text) => _writeAll(Deno.stderr, text),
      // One line: what is wrong, and where to read how it is right.
      outputError: (text, write) =>
        write(`${path}: ${text.replace(/^error: /, "").trimEnd()} (see '${path} --help')\n`),
    });
  for (const sub of command.commands) _configure(sub as AnyCommand);
}

function _path(command: AnyCommand): string {
  const names: string[] = [];
  for (let c: AnyCommand | null = command; c; c = c.parent as AnyCommand | null) {
    names.unshift(c.name());
  }
  return names.join(" ");
}

/**
 * Wraps an action so that the exit code it returns becomes the process's.
 *
 * @example
 * ```ts
 * command.action(exitWith(async (options) => found ? ExitCode.ok : ExitCode.failure));
 * ```
 */
export function exitWith<A extends unknown[]>(
  action: (...args: A) => Promise<number> | number,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    Deno.exitCode = await action(...args);
  };
}

/** Writes all of `text` to stdout; a closed pipe (`opsd … | head`) ends the process quietly. */
export function writeOut(text: string): void {
  _writeAll(Deno.stdout, text);
}

/** Writes all of `text` to stderr: notes a command makes besides its result. */
export function writeErr(text: string): void {
  _writeAll(Deno.stderr, text);
}

/** Writes `value` as JSON on one line per value (so `jq` and line tools both work). */
export function writeJson(value: unknown): void {
  writeOut(`${JSON.stringify(value)}\n`);
}

function _writeAll(stream: typeof Deno.stdout | typeof Deno.stderr, text: string): void {
  const bytes = new TextEncoder().encode(text);
  try {
    for (let offset = 0; offset < bytes.length;) offset += stream.writeSync(bytes.subarray(offset));
  } catch (error) {
    if (error instanceof Deno.errors.BrokenPipe) Deno.exit(ExitCode.ok);
    throw error;
  }
}

/** Option parser: a whole number within [min, max]. */
export function intOption(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (text: string): number => {
    if (!/^\d+$/.test(text.trim()) || Number(text) < min || Number(text) > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
    }
    return Number(text);
  };
}

/** Option parser for repeatable whole-number options: `--pid 1 --pid 2` gives [1, 2]. */
export function intListOption(min: number, max = Number.MAX_SAFE_INTEGER) {
  const one = intOption(min, max);
  return (text: string, previous: number[] = []): number[] => [...previous, one(text)];
}

/** Option parser: a duration such as `10s` or `250ms`, in milliseconds. */
export function durationOption(text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}.`);
  }
}

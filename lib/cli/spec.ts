/**
 * The shape of opsd's command line: commands, their options and operands, as
 * plain typed data. `defineCommand` infers the type of each option's value from
 * its spec, so an action reads `options.timeout` as a number without casts.
 *
 * opsd parses its command line itself (see `parse.ts`) instead of with a CLI
 * library: commander's `node:` modules cost about 55 ms of every run here, half
 * of opsd's start, and opsd runs from crontab and shell loops.
 *
 * @module
 */

/** One option. Its long name is the key it is declared under, in kebab case. */
export interface OptionSpec {
  /** What it does, for --help. */
  help: string;
  /** A one-letter alias (`p` for `-p`). */
  short?: string;
  /** Takes a value, shown as `<value>` in help; without it the option is a flag (true). */
  value?: string;
  /** Turns the value's text into the value; throws an Error saying what is expected. */
  parse?: (text: string) => unknown;
  /** With `value`: may be given several times, the values collected in order (default: none). */
  repeat?: boolean;
  /** The value when the option is not given. */
  default?: unknown;
  /** How help shows the default (default: the value itself). */
  defaultText?: string;
  /** Must be given. */
  required?: boolean;
  /** Left out of help (internal plumbing between opsd processes). */
  hidden?: boolean;
}

/** The options of a command, by long name in camel case (`leakAge` is `--leak-age`). */
export type OptionSpecs = Record<string, OptionSpec>;

type _Value<S extends OptionSpec> = S extends { value: string }
  ? S extends { parse: (text: string) => infer T } ? T : string
  : true;
type _Entry<S extends OptionSpec> = S extends { repeat: true; value: string } ? _Value<S>[]
  : _Value<S>;
type _Always<S extends OptionSpec> = S extends
  { default: unknown } | { required: true } | { repeat: true; value: string } ? true : false;

/** The parsed options of a command: present when given, defaulted, required or repeatable. */
export type OptionValues<O extends OptionSpecs> =
  & { [K in keyof O as _Always<O[K]> extends true ? K : never]: _Entry<O[K]> }
  & { [K in keyof O as _Always<O[K]> extends true ? never : K]?: _Entry<O[K]> };

/** One operand: `<name>` required, `[name]` optional, `name...` takes all that remain. */
export interface OperandSpec {
  name: string;
  help: string;
  required?: boolean;
  variadic?: boolean;
}

/** A command as `defineCommand` takes it. */
export interface CommandSpec<O extends OptionSpecs> {
  /** The word that names it. */
  name: string;
  /** One line, for the list of commands in the parent's help. */
  summary: string;
  /** Paragraphs for its own help. */
  description: string;
  /** The usage line after `opsd NAME` (default: from options and operands). */
  usage?: string;
  options?: O;
  operands?: OperandSpec[];
  /** Options end at the first operand: what follows is passed on as operands (`-- CMD`). */
  passThrough?: boolean;
  /**
   * An unknown option is an operand (daemontools' `svc -du`), and only `--help` is help;
   * `--` is passed on as an operand too, so that the command can tell where options end.
   */
  unknownOptionsAreOperands?: boolean;
  /** Commands beneath it, chosen by the first operand. */
  commands?: CliCommand[];
  /** Help text after the options: examples, exit codes. */
  after?: string;
  /** The version `-V, --version` prints (the root command's). */
  version?: string;
  /** Does the work; returns the exit code. Without it, a command must be named beneath. */
  run?: (options: OptionValues<O>, operands: string[]) => Promise<number> | number;
}

/** A command ready for the command tree (its option types erased). */
export type CliCommand = CommandSpec<OptionSpecs> & { options: OptionSpecs };

/**
 * Declares a command; the option types flow into `run`.
 *
 * @example
 * ```ts
 * const wait = defineCommand({
 *   name: "wait", summary: "wait until up", description: "Wait.",
 *   options: { timeout: { help: "give up after", value: "duration", parse: Number, default: 10 } },
 *   run: (options) => options.timeout > 0 ? 0 : 1,
 * });
 * ```
 */
export function defineCommand<const O extends OptionSpecs>(spec: CommandSpec<O>): CliCommand {
  return { ...spec, options: spec.options ?? {} } as unknown as CliCommand;
}

/** `leakAge` → `leak-age`: an option's long name from its key. */
export function longName(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** How an option reads in help and errors: `--timeout <duration>`. */
export function optionLabel(key: string, option: OptionSpec): string {
  return `--${longName(key)}${option.value ? ` <${option.value}>` : ""}`;
}

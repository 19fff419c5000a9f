/**
 * A daemon's environment, in layers: the one opsd was started with (or none), the
 * user's HOME, USER and LOGNAME under `--user`, `--env-file` files in the format of
 * systemd's EnvironmentFile (KEY=VALUE lines, `#` or `;` comments, single or double
 * quotes, backslash escapes and continuation lines), then `--env KEY=VALUE` settings.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { type Credentials, userEnvironment } from "../process/credentials.ts";
import { startEnvironment } from "../process/environment.ts";
import { READY_FD_ENV } from "../process/readiness.ts";
import { fileError } from "../file_error.ts";
import { PIDFILE_ENV } from "./pidfile.ts";

const _KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * One `KEY=VALUE` setting as `[key, value]`; throws a UsageError, prefixed with
 * `where` (such as `app.env:3`) when given, when it is not one.
 */
export function parseEnvSetting(text: string, where = ""): [string, string] {
  const equals = text.indexOf("=");
  return [_key(equals < 0 ? "" : text.slice(0, equals), text, where), text.slice(equals + 1)];
}

/**
 * The variables an environment file sets, in order, read as systemd reads an
 * EnvironmentFile=. Blank lines and lines starting with `#` or `;` are skipped;
 * `KEY=VALUE` may have spaces around the key and the value. Unquoted, a backslash
 * keeps the next character as it is (`\\` is one backslash), and one that ends a
 * line joins the next line to the value. A value in double quotes may escape `"`,
 * `\`, `$` and `` ` `` with a backslash (any other backslash is kept), joins the
 * next line on a backslash that ends a line, and may span lines; a value in single
 * quotes is taken as it is, and may span lines too. Throws a UsageError naming the
 * file and line of a line that is not a setting, a quote never closed, or text
 * after a closing quote (systemd would silently ignore or join them).
 *
 * @example
 * ```ts
 * parseEnvFile('# app\nPORT=8080\nGREETING="hello \\\nworld"\n', "app.env");
 * // [["PORT", "8080"], ["GREETING", "hello world"]]
 * ```
 */
export function parseEnvFile(text: string, name: string): [string, string][] {
  const lines = new _Lines(text, name);
  const settings: [string, string][] = [];
  for (let line = lines.next(); line !== undefined; line = lines.next()) {
    const setting = line.replace(/^[ \t]+/, "");
    if (setting === "" || setting.startsWith("#") || setting.startsWith(";")) continue;
    const equals = setting.indexOf("=");
    const key = equals < 0 ? "" : setting.slice(0, equals).replace(/[ \t]+$/, "");
    settings.push([_key(key, setting.trimEnd(), lines.where()), _value(setting, equals, lines)]);
  }
  return settings;
}

/**
 * Reads and parses the environment file at `path`. A missing file is a usage
 * error (exit 2), an unreadable one a permission error (exit 4).
 */
export function readEnvFile(path: string): [string, string][] {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    throw fileError("read --env-file", path, error);
  }
  return parseEnvFile(text, path);
}

/** The layers of {@linkcode daemonEnvironment}, each optional. */
export interface EnvironmentLayers {
  /** Start from an empty environment instead of the one opsd was started with. */
  clear?: boolean;
  /** The user the daemon runs as: its HOME, USER and LOGNAME when it switches users. */
  credentials?: Credentials;
  /** Environment files, read in order (see {@linkcode readEnvFile}). */
  files?: readonly string[];
  /** `[KEY, VALUE]` settings, applied last. */
  settings?: readonly [string, string][];
}

/**
 * A daemon's environment: the one opsd was started with (none with `clear`), then
 * the user's HOME, USER and LOGNAME when it runs as another user (as su and
 * systemd's `User=` set them), then each file, then each setting; a later layer
 * wins, so `--env HOME=/srv/web` does.
 *
 * @example
 * ```ts
 * daemonEnvironment({ clear: true, settings: [["PORT", "8080"]] }); // { PORT: "8080" }
 * ```
 */
export function daemonEnvironment(layers: EnvironmentLayers): Record<string, string> {
  const env = {
    ...(layers.clear ? {} : startEnvironment()),
    ...userEnvironment(layers.credentials),
  };
  for (const file of layers.files ?? []) Object.assign(env, Object.fromEntries(readEnvFile(file)));
  return Object.assign(env, Object.fromEntries(layers.settings ?? []));
}

/** `key` if it is a valid variable name; else a UsageError quoting the whole `text`. */
function _key(key: string, text: string, where: string): string {
  if (_KEY.test(key)) return key;
  const expected = `expected KEY=VALUE with KEY made of letters, digits and _, got "${text}"`;
  throw new UsageError(where ? `${where}: ${expected}` : expected);
}

/** A file's lines (without their `\r\n` or `\n`), read one after the other. */
class _Lines {
  readonly #lines: string[];
  #index = -1;

  constructor(text: string, readonly name: string) {
    this.#lines = text.split("\n").map((line) => line.replace(/\r$/, ""));
  }

  /** The next line, or undefined at the end of the file. */
  next(): string | undefined {
    return this.#lines[++this.#index];
  }

  /** Where the line last read is, as `app.env:3`. */
  where(): string {
    return `${this.name}:${this.#index + 1}`;
  }
}

/**
 * The value of the setting `line` (its `=` at `equals`), reading further lines
 * from `lines` while a backslash continues it or a quote is open.
 */
function _value(line: string, equals: number, lines: _Lines): string {
  const text = line.slice(equals + 1).replace(/^[ \t]+/, "");
  return text[0] === '"' || text[0] === "'"
    ? _quoted(text.slice(1), text[0], lines)
    : _unquoted(text, lines);
}

/** An unquoted value: `\c` is `c`, a final `\` joins the next line; trailing spaces go. */
function _unquoted(text: string, lines: _Lines): string {
  let value = "", kept = 0;
  for (let line: string | undefined = text; line !== undefined;) {
    let joined = false;
    for (let i = 0; i < line.length; i++) {
      if (line[i] !== "\\") {
        value += line[i];
        if (line[i] !== " " && line[i] !== "\t") kept = value.length;
      } else if (i + 1 < line.length) {
        value += line[++i];
        kept = value.length;
      } else joined = true;
    }
    if (!joined) break;
    // The spaces before the backslash stay, and the next line goes on from there.
    kept = value.length;
    line = lines.next();
  }
  return value.slice(0, kept);
}

/**
 * The rest of a value opened by `quote` on the line last read from `lines`, up to
 * the closing quote, however many lines on; only spaces may follow it.
 */
function _quoted(text: string, quote: string, lines: _Lines): string {
  const opened = lines.where();
  let value = "";
  for (let line: string | undefined = text; line !== undefined; line = lines.next()) {
    let joined = false;
    for (let i = 0; i < line.length; i++) {
      const char = line[i];
      if (char === quote) {
        if (line.slice(i + 1).trim() !== "") {
          const escape = quote === '"' ? ', or escape a " inside it as \\"' : "";
          throw new UsageError(
            `${lines.where()}: text after the closing ${quote} quote: ` +
              `put the whole value inside the quotes${escape}`,
          );
        }
        return value;
      }
      if (char !== "\\" || quote === "'") value += char;
      else if (i + 1 === line.length) joined = true;
      else {
        const next = line[++i];
        value += '"\\$`'.includes(next) ? next : `\\${next}`;
      }
    }
    if (!joined) value += "\n";
  }
  throw new UsageError(`${opened}: unterminated ${quote} quote: close it`);
}

/**
 * `env` without the variables through which opsd hands a pidfile lock or a
 * readiness fd to the program it starts (`OPSD_PIDFILE_FD`, `OPSD_PIDFILE`,
 * `OPSD_READY_FD`): they name fds of one process and must never reach another.
 */
export function withoutHandoff(env: Record<string, string>): Record<string, string> {
  const rest = { ...env };
  for (const name of [PIDFILE_ENV.fd, PIDFILE_ENV.path, READY_FD_ENV]) delete rest[name];
  return rest;
}

/**
 * A daemon's environment, in layers: the one opsd was started with (or none), the
 * user's HOME, USER and LOGNAME under `--user`, `--env-file` files in the format of
 * systemd's EnvironmentFile (KEY=VALUE lines, `#` or `;` comments, optional single
 * or double quotes), then `--env KEY=VALUE` settings.
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
 * The variables an environment file sets, in order. Blank lines and lines starting
 * with `#` or `;` are skipped; `KEY=VALUE` may have spaces around the key and the
 * value; a value in double quotes may escape `"`, `\`, `$` and `` ` `` with a
 * backslash; a value in single quotes is taken as it is.
 *
 * @example
 * ```ts
 * parseEnvFile('# app\nPORT=8080\nGREETING="hello world"\n', "app.env");
 * // [["PORT", "8080"], ["GREETING", "hello world"]]
 * ```
 */
export function parseEnvFile(text: string, name: string): [string, string][] {
  const settings: [string, string][] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const where = `${name}:${index + 1}`;
    const equals = line.indexOf("=");
    const key = _key(equals < 0 ? "" : line.slice(0, equals).trim(), line, where);
    settings.push([key, _unquote(line.slice(equals + 1).trim(), where)]);
  });
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

function _unquote(value: string, where: string): string {
  const quote = value[0];
  if (quote !== '"' && quote !== "'") return value;
  if (value.length < 2 || value[value.length - 1] !== quote) {
    throw new UsageError(`${where}: unterminated ${quote} quote: close it on the same line`);
  }
  const inner = value.slice(1, -1);
  if (quote === "'") {
    if (inner.includes("'")) throw new UsageError(`${where}: stray ' inside a '…' value`);
    return inner;
  }
  let result = "";
  for (let i = 0; i < inner.length; i++) {
    const char = inner[i];
    if (char === "\\" && i + 1 < inner.length && '"\\$`'.includes(inner[i + 1])) {
      result += inner[++i];
    } else if (char === '"') {
      throw new UsageError(`${where}: stray " inside a "…" value: escape it as \\"`);
    } else {
      result += char;
    }
  }
  return result;
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

/**
 * A service's settings: restart pacing, stopping, output and credentials. They come
 * from the service's settings file (`opsd.conf` in a service directory,
 * `NAME.opsd.conf` beside a script) and from flags, which override the file, so a
 * crontab line needs only the service's path.
 *
 * The file holds `key = value` lines; blank lines and lines starting with `#` are
 * ignored; an unknown key or a bad value is an error naming the file and line.
 *
 * ```
 * # /srv/web/opsd.conf
 * stop-timeout = 30s
 * log-file = log/current
 * ```
 *
 * Every default lives in {@linkcode SETTINGS}, and {@linkcode normalizeSettings}
 * is the one place values are checked and defaults applied.
 *
 * @module
 */

import { describeBadValue } from "../cli/values.ts";
import { fileError } from "../file_error.ts";
import { parseDuration } from "../duration.ts";
import { ExitCode, OpsdError, UsageError } from "../errors.ts";
import { resolvePath } from "../path.ts";
import type { ServicePaths } from "./paths.ts";
import { formatSize, parseSize } from "../size.ts";
import { parseUmask } from "../umask.ts";
import { signalName, signalNumber } from "../sys/signals.ts";

/** A service's settings after defaults and checks: times in ms, sizes in bytes. */
export interface ServiceSettings {
  /** Delay before restarting after the first quick death; doubles per further one. */
  restartDelay: number;
  /** The most the restart delay grows to. */
  restartDelayMax: number;
  /** A run shorter than this is a quick death; staying up this long resets the backoff. */
  stableAfter: number;
  /** This many quick deaths in a row is a crash loop. */
  crashLoopAfter: number;
  /** The signal that asks the service to stop (sent with CONT to its process group). */
  stopSignal: number;
  /** How long a stopping service gets before its group is sent KILL. */
  stopTimeout: number;
  /** How long `finish` may run before it is killed. */
  finishTimeout: number;
  /** How many of the last bytes of stderr (or stdout, see `ServiceOutput.lastOutput`) are kept for status and tail. */
  tailBytes: number;
  /** Absolute path of the log file for stdout and stderr, or null for none. */
  logFile: string | null;
  /** The log file is rotated when it would grow past this size. */
  logMaxSize: number;
  /** How many rotated log files are kept (`FILE.1` … `FILE.N`). */
  logKeep: number;
  /** How many bytes may wait for a slow log file (or stdout reader) before output is dropped and counted. */
  logBuffer: number;
  /** Run the service as this user (needs root), or null for opsd's own. */
  user: string | null;
  /** Run the service with this group, or null for the user's. */
  group: string | null;
  /** The service's umask, or null for opsd's own. */
  umask: number | null;
  /**
   * The fd on which the service says it is ready, by writing a newline (s6's
   * notification-fd), or null when it does not: it then counts as ready once started.
   */
  notificationFd: number | null;
}

/** The name of a setting, as written in the file and as a flag (`--stop-timeout`). */
export type SettingKey =
  | "restart-delay"
  | "restart-delay-max"
  | "stable-after"
  | "crash-loop-after"
  | "stop-signal"
  | "stop-timeout"
  | "finish-timeout"
  | "tail-bytes"
  | "log-file"
  | "log-max-size"
  | "log-keep"
  | "log-buffer"
  | "user"
  | "group"
  | "umask"
  | "notification-fd";

/** How one setting is written, read and defaulted. */
export interface SettingSpec {
  /** Placeholder for help text: `DURATION`, `SIZE`, `SIGNAL`… */
  value: string;
  /** One line for --help and the README. */
  help: string;
  /** The default, as it would be written in the file ("" for none). */
  default: string;
  /**
   * The least and the most a count, size or duration (ms) may be (no `max`: no
   * limit but, for a duration, the longest a timer takes), and why the least.
   */
  bounds?: { min: number; max?: number; why?: string };
}

/** Every setting, its form, help and default: the one table of defaults. */
export const SETTINGS: Readonly<Record<SettingKey, SettingSpec>> = {
  "restart-delay": {
    value: "DURATION",
    help: "delay after the first quick death; doubles per further one",
    default: "100ms",
    bounds: { min: 10, why: "a failing service would restart hundreds of times a second" },
  },
  "restart-delay-max": { value: "DURATION", help: "the most the delay grows to", default: "30s" },
  "stable-after": {
    value: "DURATION",
    help: "a shorter run is a quick death; this long up resets the backoff",
    default: "10s",
    bounds: {
      min: 100,
      why: "every crash would count as a stable run, and no crash loop would show",
    },
  },
  "crash-loop-after": {
    value: "N",
    help: "this many quick deaths in a row is a crash loop",
    default: "3",
    bounds: { min: 1, max: 1000 },
  },
  "stop-signal": {
    value: "SIGNAL",
    help: "signal that asks the service to stop; not STOP, TSTP, CONT, CHLD …",
    default: "TERM",
  },
  "stop-timeout": {
    value: "DURATION",
    help: "time to stop before the group gets KILL",
    default: "10s",
  },
  "finish-timeout": {
    value: "DURATION",
    help: "time finish may run before it is killed",
    default: "5s",
  },
  "tail-bytes": {
    value: "SIZE",
    help: "last bytes of stderr (or stdout, when it writes none) kept for status",
    default: "400",
    bounds: { min: 0, max: 1 << 20 },
  },
  "log-file": {
    value: "PATH",
    help: "log stdout and stderr to this file (relative to the service)",
    default: "",
  },
  "log-max-size": {
    value: "SIZE",
    help: "rotate the log file at this size",
    default: "10M",
    bounds: { min: 4096 },
  },
  "log-keep": {
    value: "N",
    help: "rotated log files to keep",
    default: "10",
    bounds: { min: 0, max: 1000 },
  },
  "log-buffer": {
    value: "SIZE",
    help: "output held for a slow log file or reader before dropping",
    default: "16M",
    bounds: { min: 65536, max: 1 << 30 },
  },
  user: {
    value: "USER",
    help: "run the service as this user, with its HOME, USER and LOGNAME (needs root)",
    default: "",
  },
  group: {
    value: "GROUP",
    help: "run the service with this group (alone: the supervisor's user, this group only)",
    default: "",
  },
  umask: { value: "OCTAL", help: "the service's umask, e.g. 022", default: "" },
  "notification-fd": {
    value: "FD",
    help: "run writes a newline to this fd once ready (as s6's notification-fd)",
    default: "",
    bounds: { min: 3, max: 1023, why: "0, 1 and 2 are the service's stdin, stdout and stderr" },
  },
};

/**
 * Setting values as written, before checks; `where` names each one for error
 * messages (`/srv/web/opsd.conf:3: stop-timeout`, or `--stop-timeout`).
 */
export type RawSettings = Partial<Record<SettingKey, { text: string; where: string }>>;

/**
 * Reads a settings file into raw values; a missing file is no settings. Throws a
 * UsageError naming the file and line for a malformed line or an unknown key.
 */
export function readSettingsFile(path: string): RawSettings {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return {};
    if (error instanceof Deno.errors.IsADirectory) {
      throw new UsageError(`${path} is a directory: a settings file holds "key = value" lines`);
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new OpsdError(
        `${path}: permission denied: run this as a user who may read it, or as root`,
        ExitCode.permission,
      );
    }
    throw error;
  }
  const raw: RawSettings = {};
  text.split("\n").forEach((line, index) => {
    const where = `${path}:${index + 1}`;
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const match = /^([A-Za-z0-9_-]+)\s*=\s*(.*)$/.exec(trimmed);
    if (!match) throw new UsageError(`${where}: expected "key = value", got "${trimmed}"`);
    raw[_key(match[1], where)] = { text: match[2], where: `${where}: ${match[1]}` };
  });
  return raw;
}

/**
 * Raw values from flags (`{"stop-timeout": "5s"}`, undefined for flags not given),
 * checked for unknown keys like a file's.
 */
export function settingsFromFlags(flags: Record<string, string | undefined>): RawSettings {
  const raw: RawSettings = {};
  for (const [name, text] of Object.entries(flags)) {
    if (text !== undefined) raw[_key(name, "flags")] = { text, where: `--${name}` };
  }
  return raw;
}

function _key(name: string, where: string): SettingKey {
  if (name in SETTINGS) return name as SettingKey;
  throw new UsageError(
    `${where}: unknown setting "${name}": known settings are ${Object.keys(SETTINGS).join(", ")}`,
  );
}

/**
 * Where the value of `key` in effect comes from, with raw layers applied in order
 * (`/srv/web/opsd.conf:3: user`, `--user`), or the key's name for its default:
 * what an error about that value names.
 */
export function settingSource(key: SettingKey, ...layers: RawSettings[]): string {
  return layers.findLast((layer) => layer[key])?.[key]?.where ?? key;
}

/**
 * The settings for a service whose directory is `dir`, from raw layers applied in
 * order (later ones win: the file, then flags), with every default filled in.
 * Throws a UsageError naming the setting and where it came from for a bad value.
 */
export function normalizeSettings(dir: string, ...layers: RawSettings[]): ServiceSettings {
  const merged: RawSettings = Object.assign({}, ...layers);
  const get = <K extends SettingKey>(key: K): _Value<K> => {
    const given = merged[key];
    const text = given?.text ?? SETTINGS[key].default;
    try {
      return _PARSERS[key](text) as _Value<K>;
    } catch (error) {
      throw new UsageError(`${given?.where ?? key}: ${describeBadValue(text, error)}`);
    }
  };
  const logFile = get("log-file");
  const settings: ServiceSettings = {
    restartDelay: get("restart-delay"),
    restartDelayMax: get("restart-delay-max"),
    stableAfter: get("stable-after"),
    crashLoopAfter: get("crash-loop-after"),
    stopSignal: get("stop-signal"),
    stopTimeout: get("stop-timeout"),
    finishTimeout: get("finish-timeout"),
    tailBytes: get("tail-bytes"),
    logFile: logFile && resolvePath(dir, logFile),
    logMaxSize: get("log-max-size"),
    logKeep: get("log-keep"),
    logBuffer: get("log-buffer"),
    user: get("user"),
    group: get("group"),
    umask: get("umask"),
    notificationFd: get("notification-fd"),
  };
  if (settings.restartDelayMax < settings.restartDelay) {
    throw new UsageError(
      `${settingSource("restart-delay-max", ...layers)}: ` +
        `${merged["restart-delay-max"]?.text ?? "30s"} is below restart-delay ` +
        `(${merged["restart-delay"]?.text ?? "100ms"}): raise it or lower restart-delay`,
    );
  }
  return settings;
}

/** A service's settings as loaded, and where each value in effect came from. */
export interface LoadedSettings {
  settings: ServiceSettings;
  /** What an error about the value of `key` names: {@linkcode settingSource}. */
  sourceOf: (key: SettingKey) => string;
}

/**
 * The settings of a service: its settings file's (over s6's one-value files in a
 * service directory), with `flags` over them, every default filled in. Throws a UsageError naming the file and line, or the flag, for a
 * bad line or value (exit 4 for a file it may not read).
 *
 * @example
 * ```ts
 * const { settings } = loadSettings(resolveService("/srv/web")); // settings.stopTimeout === 10000
 * ```
 */
export function loadSettings(
  service: Pick<ServicePaths, "dir" | "settingsFile" | "form">,
  flags: RawSettings = {},
): LoadedSettings {
  const layers = [_s6Files(service), readSettingsFile(service.settingsFile), flags];
  return {
    settings: normalizeSettings(service.dir, ...layers),
    sourceOf: (key) => settingSource(key, ...layers),
  };
}

/**
 * The settings an s6 service directory holds in one-value files, so that it works
 * unchanged: `notification-fd` (under opsd.conf and flags, which win).
 */
function _s6Files(service: Pick<ServicePaths, "dir" | "form">): RawSettings {
  if (service.form !== "directory") return {};
  const path = `${service.dir}/notification-fd`;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return {};
    throw fileError("read", path, error);
  }
  return { "notification-fd": { text: text.trim(), where: path } };
}

/**
 * Checks the text of one setting as its flag gives it: throws an Error saying
 * what is expected (`expected 1 to 1000`) for a bad value, so the command line
 * parser refuses it in the same words as any other option's.
 */
export function checkSettingValue(key: SettingKey, text: string): string {
  _PARSERS[key](text);
  return text;
}

/** The value each setting's parser returns. */
type _Value<K extends SettingKey> = ReturnType<(typeof _PARSERS)[K]>;

/** The longest duration a timer takes (2^31 - 1 ms, about 24.8 days). */
const _LONGEST = 2 ** 31 - 1;

/** How the text of each setting becomes its value (a log file's path is resolved later). */
const _PARSERS = {
  "restart-delay": _bounded("restart-delay", parseDuration),
  "restart-delay-max": _bounded("restart-delay-max", parseDuration),
  "stable-after": _bounded("stable-after", parseDuration),
  "crash-loop-after": _bounded("crash-loop-after", _wholeNumber),
  "stop-signal": _stopSignal,
  "stop-timeout": _bounded("stop-timeout", parseDuration),
  "finish-timeout": _bounded("finish-timeout", parseDuration),
  "tail-bytes": _bounded("tail-bytes", parseSize),
  "log-file": _optional,
  "log-max-size": _bounded("log-max-size", parseSize),
  "log-keep": _bounded("log-keep", _wholeNumber),
  "log-buffer": _bounded("log-buffer", parseSize),
  user: _optional,
  group: _optional,
  umask: _umask,
  "notification-fd": _notificationFd,
} satisfies Record<SettingKey, (text: string) => unknown>;

/** Text that may be empty: trimmed, or null for none. */
function _optional(text: string): string | null {
  return text.trim() === "" ? null : text.trim();
}

function _wholeNumber(text: string): number {
  if (!/^\s*\d+\s*$/.test(text)) throw new RangeError("expected a whole number");
  return Number(text);
}

/**
 * `parse`, refusing a value outside the bounds of setting `key` (saying why the
 * least, when its bounds do): the one place bounds are checked. A duration without
 * a most is refused above the longest a timer takes.
 */
function _bounded(key: SettingKey, parse: (text: string) => number): (text: string) => number {
  const spec = SETTINGS[key];
  const { min, max, why } = spec.bounds ?? { min: -Infinity };
  const longest = spec.value === "DURATION" ? _LONGEST : Infinity;
  return (text) => {
    let value: number;
    try {
      value = parse(text);
    } catch (error) {
      const reason = (error as Error).message;
      throw reason.startsWith("expected ") && spec.bounds
        ? new RangeError(`${reason}, ${settingRange(key)}`)
        : error;
    }
    if (value < min) {
      throw new RangeError(`expected ${settingRange(key)}${why === undefined ? "" : `: ${why}`}`);
    }
    if (max !== undefined && value > max) throw new RangeError(`expected ${settingRange(key)}`);
    if (value > longest) throw new RangeError("expected at most 596h, the longest a timer takes");
    return value;
  };
}

/**
 * The values setting `key` takes, as help and errors say it (`1 to 1000`,
 * `64k to 1G`, `at least 4k`, `at least 10ms`), or "" for a setting without bounds.
 */
export function settingRange(key: SettingKey): string {
  const spec = SETTINGS[key];
  if (!spec.bounds) return "";
  const show = spec.value === "SIZE" ? formatSize : spec.value === "DURATION" ? _ms : String;
  const { min, max } = spec.bounds;
  return max === undefined ? `at least ${show(min)}` : `${show(min)} to ${show(max)}`;
}

/** A duration of whole ms as a settings file would say it (`10ms`). */
function _ms(ms: number): string {
  return `${ms}ms`;
}

/** Signals that do not end a process by default: a stop that sends one would only wait for KILL. */
const _NOT_STOPPING = [
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGCONT",
  "SIGCHLD",
  "SIGWINCH",
  "SIGURG",
];

function _stopSignal(text: string): number {
  const number = signalNumber(text);
  if (_NOT_STOPPING.includes(signalName(number))) {
    throw new RangeError(
      `${signalName(number)} does not stop a process: use TERM, INT, QUIT, HUP, USR1 … (or KILL)`,
    );
  }
  return number;
}

/** An fd number (3 to 1023), or null (no readiness notification) when empty. */
function _notificationFd(text: string): number | null {
  return text.trim() === "" ? null : _bounded("notification-fd", _wholeNumber)(text);
}

/** A umask, or null (opsd's own) when empty. */
function _umask(text: string): number | null {
  return text.trim() === "" ? null : parseUmask(text);
}

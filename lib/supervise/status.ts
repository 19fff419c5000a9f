/**
 * What a supervisor records about a service (the status file and the control
 * socket's `status` reply), and how `opsd status` turns it into one line:
 * `up (pid 1842, pgid 1842) 73 seconds, normally up`.
 *
 * @module
 */

import type { TailStream } from "./output/output.ts";
import { formatDuration, formatSeconds } from "../duration.ts";
import { describeExit } from "../process/exit.ts";

/** A service's state as status shows it. A crash loop is never "up". */
export type ServiceState = "up" | "down" | "crash-loop" | "stopping" | "finishing";

/** What the operator (or the `down` file) asked for: `once` runs it without restarting. */
export type Want = "up" | "down" | "once";

/** One running process of a service. */
export interface InstanceStatus {
  pid: number;
  /** Its process group (and session): the service runs in a session of its own. */
  pgid: number;
  /** Start time in clock ticks after boot (/proc/PID/stat): with the pid, names the process. */
  procStart: number;
  /** When it was started (ISO 8601). */
  started: string;
  /**
   * A mark in the environment of every process it starts (`OPSD_INSTANCE=id`):
   * what tells them from strangers once it and its supervisor are gone.
   */
  id: string;
  /**
   * When it said it was ready on its notification-fd (ISO 8601), or null: not yet, or
   * the service has none. Absent for `finish` and in records written before it existed.
   */
  ready?: string | null;
}

/** The status record: `supervise/status.json`, and the control socket's `status` reply. */
export interface ServiceStatus {
  /** Version of this record's layout. */
  format: 1;
  /** The service's absolute path. */
  service: string;
  /** `main`, or `log` for a service's `log/` service. */
  role: "main" | "log";
  state: ServiceState;
  /** The newest running process, or null. */
  pid: number | null;
  pgid: number | null;
  /**
   * The fd on which the service says it is ready (s6's notification-fd), or null when it
   * says nothing and counts as ready once started (absent in older records: null).
   */
  notificationFd?: number | null;
  /** When the newest running process said it was ready (its instance's `ready`), or null. */
  ready?: string | null;
  /** Every running process of the service (one today; overlapping restarts will make more). */
  instances: InstanceStatus[];
  /** When the current state began: start time when up, exit time when down (ISO 8601). */
  since: string;
  /** Processes started by this supervisor. */
  starts: number;
  /** How the last run ended: its exit code, or null (killed by a signal, or never ran). */
  exitCode: number | null;
  /** The signal that killed the last run (`SIGKILL`), or null. */
  signal: string | null;
  /** How long the last run lasted, in ms. */
  ranFor: number | null;
  /** Why the last start failed (`/srv/web/run: not found`), or null. */
  error: string | null;
  want: Want;
  /** `down` when the service directory has a `down` file. */
  normally: "up" | "down";
  /** Sent STOP by `opsd pause` and not yet CONT. */
  paused: boolean;
  /** When the next start is due (ISO 8601), or null. */
  nextRestart: string | null;
  /** While stopping: when the group is sent KILL (ISO 8601). */
  killAt: string | null;
  /**
   * Set while the service is in a crash loop: starts in the loop and when it began
   * (also while what its last run left is stopped, or `finish` runs, between runs).
   */
  crashLoop: { starts: number; since: string } | null;
  /**
   * The `finish` program running now (in a session of its own), or null; so that
   * it is found too when the supervisor was killed meanwhile (records written
   * before this field existed lack it).
   */
  finish: InstanceStatus | null;
  /**
   * The last bytes the service wrote to stderr, or to stdout while it wrote nothing
   * to stderr (a run that did `exec 2>&1`): `tailStream` says which.
   */
  tail: string;
  /** The stream `tail` is of (absent in records written before it was kept: stderr). */
  tailStream?: TailStream;
  /** Output lost because the log file (or, without one, the supervisor's reader) fell behind or failed. */
  droppedBytes: number;
  /** Where stdout and stderr are logged, or null. */
  logFile: string | null;
  /** Why it stays down though wanted up before (`finish exited 125`), or null (absent in older records). */
  keptDown?: string | null;
  /**
   * The supervisor that wrote this record; detached: started by `opsd supervise --daemon`;
   * exiting: why it is taking everything down to exit (`opsd exit`, `TERM received`, `its
   * first start failed`), or null (records written before these two fields existed lack
   * them: read as not detached, not exiting).
   */
  supervisor: {
    pid: number;
    procStart: number;
    started: string;
    detached?: boolean;
    exiting?: string | null;
  };
  /** When this record was written (ISO 8601). */
  updated: string;
}

/**
 * Reads a status record from the text of a status file, checking every field, so
 * that a damaged file or another tool's is refused with what is wrong instead of
 * misread. Throws an Error naming the first bad field.
 */
export function parseStatusRecord(text: string): ServiceStatus {
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    throw new Error("not JSON");
  }
  if (typeof record !== "object" || record === null || Array.isArray(record)) {
    throw new Error("not a JSON object");
  }
  const fields = record as Record<string, unknown>;
  if (fields.format !== 1) throw new Error("not an opsd status record (format 1)");
  for (const [name, valid] of Object.entries(_FIELDS)) {
    // Records written before `finish` existed lack it.
    if (name === "finish" && !(name in fields)) continue;
    if (!valid(fields[name])) throw new Error(`bad field '${name}'`);
  }
  return record as ServiceStatus;
}

type _Check = (value: unknown) => boolean;
const _string: _Check = (value) => typeof value === "string";
const _number: _Check = (value) => typeof value === "number" && Number.isFinite(value);
const _integer: _Check = (value) => Number.isSafeInteger(value);
const _date: _Check = (value) => typeof value === "string" && !Number.isNaN(Date.parse(value));
const _nullOr = (check: _Check): _Check => (value) => value === null || check(value);
const _oneOf = (...allowed: unknown[]): _Check => (value) => allowed.includes(value);
const _object = (shape: Record<string, _Check>): _Check => (value) =>
  typeof value === "object" && value !== null &&
  Object.entries(shape).every(([name, check]) => check((value as Record<string, unknown>)[name]));
/** A field that records written before it existed lack. */
const _optional = (check: _Check): _Check => (value) => value === undefined || check(value);
const _instance = _object({
  pid: _integer,
  pgid: _integer,
  procStart: _number,
  started: _date,
  id: _string,
  ready: _optional(_nullOr(_date)),
});

/** How each field of a {@linkcode ServiceStatus} must look. */
const _FIELDS: Record<keyof ServiceStatus, _Check> = {
  format: _oneOf(1),
  service: _string,
  role: _oneOf("main", "log"),
  state: _oneOf("up", "down", "crash-loop", "stopping", "finishing"),
  pid: _nullOr(_integer),
  pgid: _nullOr(_integer),
  notificationFd: _optional(_nullOr(_integer)),
  ready: _optional(_nullOr(_date)),
  instances: (value) => Array.isArray(value) && value.every(_instance),
  since: _date,
  starts: _integer,
  exitCode: _nullOr(_integer),
  signal: _nullOr(_string),
  ranFor: _nullOr(_number),
  error: _nullOr(_string),
  want: _oneOf("up", "down", "once"),
  normally: _oneOf("up", "down"),
  paused: _oneOf(true, false),
  nextRestart: _nullOr(_date),
  killAt: _nullOr(_date),
  crashLoop: _nullOr(_object({ starts: _integer, since: _date })),
  finish: _nullOr(_instance),
  tail: _string,
  tailStream: _optional(_oneOf("stderr", "stdout")),
  droppedBytes: _number,
  logFile: _nullOr(_string),
  keptDown: _optional(_nullOr(_string)),
  supervisor: _object({
    pid: _integer,
    procStart: _number,
    started: _date,
    detached: _optional(_oneOf(true, false)),
    exiting: _optional(_nullOr(_string)),
  }),
  updated: _date,
};

/** Whether a record describes a service in trouble, so status shows its output tail. */
export function isFailing(status: ServiceStatus): boolean {
  if (status.state === "crash-loop" || status.crashLoop !== null) return true;
  // Down because it was asked to be: not a failure, whatever signal stopped it.
  if (status.want === "down" || status.state === "up" || status.state === "stopping") return false;
  return status.error !== null || status.signal !== null ||
    (status.exitCode !== null && status.exitCode !== 0);
}

const _NOT_STARTED = "not started yet";

/** How the last run ended: `exited 1`, `killed by SIGKILL`, `failed to start: …`. */
export function describeLastRun(status: ServiceStatus): string {
  if (status.error !== null) return `failed to start: ${status.error}`;
  if (status.signal === null && status.exitCode === null) return _NOT_STARTED;
  return describeExit(status);
}

/**
 * The status line of a service whose supervisor runs, as of `now` (ms):
 * `up (pid 1842, pgid 1842) 73 seconds, normally up`,
 * `up (pid 1842, pgid 1842) 73 seconds, ready 72 seconds, normally up` (notification-fd),
 * `down 5 seconds, exited 1, normally up, want up, restart in 3.2 s`,
 * `crash-loop: 12 starts in 60 s, last exited 1, restart in 3.2 s`.
 */
export function describeStatus(status: ServiceStatus, now = Date.now()): string {
  const seconds = formatSeconds(_secondsSince(status.since, now));
  const process = `(pid ${status.pid}, pgid ${status.pgid})`;
  const loop = status.crashLoop;
  // Between the runs of a crash loop (stopping what the last left, finishing), it still says so.
  const parts = loop === null
    ? []
    : [`crash-loop: ${loop.starts} starts in ${formatDuration(now - Date.parse(loop.since))}`];
  switch (status.state) {
    case "crash-loop": {
      // After 'opsd up' following a failed start, no run may have ended yet to tell of.
      const last = describeLastRun(status);
      if (last !== _NOT_STARTED) parts.push(`last ${last}`);
      if (status.pid !== null) parts.push(`running again ${process} ${seconds}`);
      break;
    }
    case "up":
      parts.push(`up ${process} ${seconds}`);
      if (status.notificationFd != null) {
        parts.push(
          status.ready == null
            ? "not ready"
            : `ready ${formatSeconds(_secondsSince(status.ready, now))}`,
        );
      }
      parts.push(`normally ${status.normally}`);
      if (status.want === "down") parts.push("want down");
      if (status.want === "once") parts.push("once");
      if (status.paused) parts.push("paused");
      break;
    case "stopping":
      parts.push(
        status.pid !== null
          ? `stopping ${process}`
          : status.pgid !== null
          ? `stopping (what is left of pgid ${status.pgid})`
          : "stopping (processes it orphaned)",
      );
      if (status.killAt) {
        parts.push(`KILL in ${formatDuration(Math.max(0, Date.parse(status.killAt) - now))}`);
      }
      parts.push(`want ${status.want}`);
      break;
    case "finishing":
      parts.push("finishing", describeLastRun(status), `want ${status.want}`);
      break;
    case "down":
      parts.push(`down ${seconds}`, describeLastRun(status), `normally ${status.normally}`);
      if (status.want !== "down") parts.push(`want ${status.want}`);
      if (status.keptDown) parts.push(`kept down: ${status.keptDown}`);
      break;
  }
  if (status.state !== "up" && status.nextRestart) {
    parts.push(`restart in ${formatDuration(Math.max(0, Date.parse(status.nextRestart) - now))}`);
  }
  if (status.droppedBytes > 0) parts.push(`${status.droppedBytes} bytes of output dropped`);
  return parts.join(", ");
}

/** Whole seconds from `date` (ISO 8601) to `now` (ms), never below 0. */
function _secondsSince(date: string, now: number): number {
  return Math.max(0, Math.floor((now - Date.parse(date)) / 1000));
}

/**
 * Whether a record shows its service up and ready: running, not in a crash loop, and
 * having said it is ready when it has a notification-fd to say it on.
 */
export function isReady(status: ServiceStatus): boolean {
  return status.state === "up" && (status.notificationFd == null || status.ready != null);
}

/**
 * What an exiting supervisor means for its services, `why` it exits: the note status adds
 * and, naming the service it supervises, why a control word that would run it is refused.
 */
export function describeExiting(why: string, service?: string): string {
  const who = service === undefined ? "its supervisor" : `the supervisor of ${service}`;
  return `${who} is exiting (${why}): it takes the service down; ` +
    "start a new supervisor once it has exited to run it again";
}

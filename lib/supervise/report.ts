/**
 * What `opsd status` reports about a service: whether a supervisor runs (from
 * its lock, never from a pid), the last status it recorded, and — when the
 * supervisor is gone — whether the service's processes still run unsupervised.
 *
 * @module
 */

import { formatDuration, formatSeconds } from "../duration.ts";
import { ExitCode, exitCodeOf, OpsdError } from "../errors.ts";
import { runFileProblem, type ServicePaths } from "../service/paths.ts";
import { leftoverProcesses } from "./leftovers.ts";
import { isLive, readProcStat } from "../procfs/stat.ts";
import { sendControl } from "./control.ts";
import { flockHolderOf, lockPath, readStatus, runningSupervisor, statusPath } from "./state.ts";
import {
  describeExiting,
  describeLastRun,
  describeStatus,
  isFailing,
  isReady,
  type ServiceStatus,
} from "./status.ts";
import { dirname } from "../path.ts";
import { escapeControls, escapeText } from "../text/escape.ts";
import { isRunning } from "../procfs/processes.ts";
import { lateLogAdvice, lateLogOf, superviseAgainCommand } from "./late_log.ts";

/** One service's status as `opsd status --json` prints it (one object per line). */
export interface StatusReport {
  /** The service as the operator named it (`web`, `./run.sh`; `web/log` for a log service). */
  name: string;
  /** Its absolute path. */
  service: string;
  role: "main" | "log";
  /**
   * Whether a supervisor holds the service's lock, its pid, whether it runs
   * detached (`opsd supervise --daemon`; null when it has not written the record),
   * and why it is exiting (`opsd exit`, `TERM received`…; null when it is not).
   */
  supervisor: {
    running: boolean;
    pid: number | null;
    detached: boolean | null;
    exiting: string | null;
  };
  /**
   * `up`, `down`, `crash-loop`, `stopping`, `finishing`; with no supervisor,
   * `unsupervised` when its processes still run, else `down`.
   */
  state: ServiceStatus["state"] | "unsupervised";
  /** Seconds in the current state (up: since start; down: since exit), or null. */
  uptime: number | null;
  /** Seconds until the next start, or null. */
  restartIn: number | null;
  /** Pids still running although no supervisor runs. */
  unsupervised: number[];
  /** The record the supervisor last wrote (null: never supervised). */
  record: ServiceStatus | null;
  /** What else the operator should know, said after the status line (`log/ is not supervised: …`). */
  notes: string[];
}

/**
 * The reports for a service and, when it has one, its log service. `askWithin`:
 * how long (ms) a supervisor whose status file is out of date is given to answer.
 * Each lock and each status file is looked at once (a supervisor asked for its
 * record is looked at again only when asking fails), and only what is shown is built:
 * a log/ its service's supervisor does not carry is a note on the service's line.
 */
export async function statusReports(
  paths: ServicePaths,
  name: string,
  now = Date.now(),
  askWithin = ASK_TIMEOUT,
): Promise<StatusReport[]> {
  const look = _look(paths);
  const main = await _report(paths, name, "main", look, now, askWithin);
  if (!paths.log) return [main];
  const logSupervisor = runningSupervisor(paths.log);
  if (main.supervisor.running && logSupervisor === null) {
    main.notes.push(
      "log/ is not supervised: it was made after the supervisor started; " +
        lateLogAdvice(paths, look.record),
    );
    return [main];
  }
  // Its service has no supervisor, or one that carries it: it is no late log/.
  const log = await _report(
    paths.log,
    _logName(name),
    "log",
    {
      supervisor: logSupervisor,
      record: readStatus(paths.log),
      lateLog: false,
      above: main.supervisor,
    },
    now,
    askWithin,
  );
  const reading = log.state !== "up" ? "is not up" : log.record?.paused ? "is paused" : null;
  if (main.supervisor.running && reading !== null) {
    // As under daemontools, runit and s6: nothing is lost, so the writer waits.
    main.notes.push(
      `its stdout goes to log/, which ${reading}: once the pipe is full the service blocks writing`,
    );
  }
  return [main, log];
}

/**
 * How to name the log/ of the directory service the operator named `name`: beside
 * run when the name is its run file (`web/run`: `web/log`), else inside (`web/log`).
 */
function _logName(name: string): string {
  const trimmed = name.replace(/\/+$/, "");
  if (!/(^|\/)run$/.test(trimmed) || !_isFile(trimmed)) return `${trimmed}/log`;
  const dir = trimmed.slice(0, -"run".length).replace(/\/+$/, "");
  return `${dir === "" ? "." : dir}/log`;
}

function _isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * The report for one service (`role` as its line names it), without its log
 * service's: what `opsd wait` polls. `askWithin`: see {@linkcode statusReports}.
 */
export async function serviceReport(
  paths: ServicePaths,
  name: string,
  role: "main" | "log",
  now: number,
  askWithin: number,
): Promise<StatusReport> {
  return await _report(paths, name, role, _look(paths), now, askWithin);
}

/** What one look at a service's state directory found, and what its report need not say. */
interface _Look {
  /** The supervisor holding its lock ({@linkcode runningSupervisor}), or null. */
  supervisor: number | null;
  /** Its status file's record, or null. */
  record: ServiceStatus | null;
  /** Whether it may be a log/ made after its service's supervisor started (false: known not). */
  lateLog: boolean;
  /** The line above's supervisor (its service's): an exiting note said there is not repeated. */
  above: StatusReport["supervisor"] | null;
}

/** Looks at a service's lock, then its status file, once. */
function _look(paths: ServicePaths): _Look {
  const supervisor = runningSupervisor(paths);
  return { supervisor, record: readStatus(paths), lateLog: true, above: null };
}

/** The report for one service from what `look` found. */
async function _report(
  paths: ServicePaths,
  name: string,
  role: "main" | "log",
  look: _Look,
  now: number,
  askWithin: number,
): Promise<StatusReport> {
  const { supervisor: pid, record: file } = look;
  const running = pid !== null;
  const record = running ? await _currentRecord(paths, file, askWithin) : file;
  const unsupervised = running ? [] : leftoverProcesses(record).map((process) => process.pid);
  const report = _build(name, paths.path, role, pid, record, unsupervised, now, look.above);
  const service = running || !look.lateLog ? null : lateLogOf(paths, false);
  if (service) {
    report.notes.push(
      `it is the log/ of ${service.path}, made after that service's supervisor started; ` +
        lateLogAdvice(service),
    );
  }
  // Without a supervisor, what would stop the next one from running it (a run file chmod -x'd).
  const problem = running ? null : _runProblem(paths);
  if (problem) report.notes.push(`opsd supervise would refuse it: ${problem}`);
  const other = running ? null : flockHolderOf(lockPath(paths));
  if (other) {
    report.notes.push(
      `pid ${other.pid}${other.name === null ? "" : ` (${other.name})`} supervises it: it holds ` +
        `${lockPath(paths)} with flock, as daemontools and runit do; use that tool's commands`,
    );
  }
  return report;
}

/** {@linkcode runFileProblem}'s message; null also when the run file cannot be looked at. */
function _runProblem(paths: ServicePaths): string | null {
  try {
    return runFileProblem(paths)?.message ?? null;
  } catch {
    return null;
  }
}

/**
 * The report for a record a running supervisor just sent (the reply to a control
 * word): the same fields `opsd status` shows, from that record.
 */
export function liveReport(name: string, record: ServiceStatus, now = Date.now()): StatusReport {
  // Its `paused` stands: a STOP just sent may not have stopped the process yet.
  return _build(name, record.service, record.role, record.supervisor.pid, record, [], now);
}

/**
 * A report from what is known: `supervisor` is the running supervisor's pid (-1: unknown),
 * or null; `above`: see {@linkcode _Look}.
 */
function _build(
  name: string,
  service: string,
  role: "main" | "log",
  supervisor: number | null,
  record: ServiceStatus | null,
  unsupervised: number[],
  now: number,
  above: StatusReport["supervisor"] | null = null,
): StatusReport {
  const running = supervisor !== null;
  const since = record ? Date.parse(record.since) : null;
  const next = record?.nextRestart ? Date.parse(record.nextRestart) : null;
  // What the record says of the supervisor counts only when that supervisor is the one running.
  const own = running && record?.supervisor.pid === supervisor ? record.supervisor : null;
  const exiting = own?.exiting ?? null;
  const pid = running && supervisor > 0 ? supervisor : null;
  // The main line just above says it for the same supervisor (JSON has it on both).
  const saidAbove = exiting !== null && above?.pid === pid && above.exiting === exiting;
  return {
    name,
    service,
    role,
    supervisor: {
      running,
      pid,
      detached: own?.detached ?? null,
      exiting,
    },
    state: running ? record?.state ?? "down" : unsupervised.length > 0 ? "unsupervised" : "down",
    uptime: since === null ? null : Math.max(0, Math.floor((now - since) / 1000)),
    restartIn: running && next !== null ? Math.max(0, (next - now) / 1000) : null,
    unsupervised,
    record,
    notes: [
      ...(exiting === null || saidAbove ? [] : [describeExiting(exiting)]),
      ...(running ? _hints(record) : []),
    ],
  };
}

/** What a record's state suggests doing, where the line alone would puzzle. */
function _hints(record: ServiceStatus | null): string[] {
  const exitedZero = record?.exitCode === 0 && record.signal === null && record.error === null;
  if (!record?.crashLoop || !exitedZero) return [];
  // What runit's and s6's FAQs answer most: a program that daemonizes itself.
  return [
    "run keeps exiting 0 at once: does it put itself in the background? keep it in the " +
    "foreground (its no-daemon option; exec it)",
  ];
}

/**
 * A running supervisor's record, checked against /proc. While the main process it
 * names runs, `paused` is taken from the kernel: whether the process is stopped
 * (STOP from `opsd pause`, or from anybody else), not only whether the last control
 * word was `pause`. When the process of a record that says `up` has exited, the
 * file is out of date — its supervisor has not written the change yet, or cannot
 * (a full disk) — so the supervisor is asked for its record; one that does not
 * answer is an error (exit 1): a process that is gone is never shown up. (Other
 * states are not up anyway: a crash loop keeps its line between its quick runs.)
 */
async function _currentRecord(
  paths: ServicePaths,
  record: ServiceStatus | null,
  askWithin: number,
): Promise<ServiceStatus | null> {
  const main = record?.instances.find((instance) => instance.pid === record.pid);
  if (!record || !main) return record;
  const stat = readProcStat(main.pid);
  if (stat && stat.startTime === main.procStart && isLive(stat)) {
    return { ...record, paused: stat.state === "T" || stat.state === "t" };
  }
  if (record.state !== "up") return record;
  let problem: string, cause: unknown;
  try {
    const reply = await sendControl(paths, { command: "status" }, askWithin);
    if (reply.ok) return reply.status;
    problem = reply.error;
  } catch (error) {
    // It exited meanwhile: its last record stands (it wrote it on its way out, if it could).
    if (runningSupervisor(paths) === null) return readStatus(paths);
    cause = error;
    problem = exitCodeOf(error) === ExitCode.timeout
      ? `it did not answer within ${formatDuration(askWithin)} (is it stopped?)`
      : (error as Error).message;
  }
  throw new OpsdError(
    `${statusPath(paths)} is out of date: pid ${main.pid}, recorded as running, has exited, ` +
      `and asking its supervisor (pid ${record.supervisor.pid}) failed: ${problem}; ` +
      "if it cannot write the file (a full disk?), its messages say so",
    ExitCode.failure,
    { cause },
  );
}

/** How long `opsd status` waits for a supervisor whose status file is out of date (ms). */
export const ASK_TIMEOUT = 2000;

/**
 * The report as people read it: `NAME: STATUS LINE`, followed by the output tail
 * (indented) when the service is failing.
 */
export function describeReport(report: StatusReport, now = Date.now()): string {
  const { record } = report;
  let line: string;
  if (report.supervisor.running && record) {
    line = describeStatus(record, now);
  } else if (report.supervisor.running) {
    line = "starting";
  } else if (report.unsupervised.length > 0) {
    // A log/ is supervised with its service, which feeds it.
    const service = report.role === "log" ? dirname(report.service) : report.service;
    const again = superviseAgainCommand(service, record?.supervisor.detached ?? false);
    line =
      `supervisor not running; pid ${report.unsupervised.join(", ")} still running unsupervised` +
      `: ${again} stops ${report.unsupervised.length > 1 ? "them" : "it"} and starts afresh`;
  } else if (record && record.service !== report.service && isRunning(record.supervisor)) {
    // Its own supervisor, alive a moment after it let go of the lock, is one that is ending.
    line = `supervisor not running; its status.json was written by supervisor pid ` +
      `${record.supervisor.pid}, which runs for ${record.service} (a copied directory?)`;
  } else if (record && record.instances.length > 0) {
    line = `supervisor not running; pid ${record.instances.map((p) => p.pid).join(", ")}, ` +
      "recorded as running, is gone too";
  } else if (record) {
    const down = formatSeconds(report.uptime ?? 0);
    line = `supervisor not running; down ${down}, ${describeLastRun(record)}`;
  } else {
    line = "supervisor not running; never supervised";
  }
  const tail = record && isFailing(record) ? record.tail.trimEnd() : "";
  // What the service wrote may hold escape sequences: they must not reach the terminal.
  const tailLines = tail === "" ? [] : tail.split("\n").map((text) => `  | ${escapeText(text)}`);
  const notes = report.notes.map((note) => `; ${note}`).join("");
  // A name or path with a newline or escape sequence must not split the line or reach the terminal.
  const said = escapeControls(`${line}${notes}`);
  return [`${escapeText(report.name)}: ${said}`, ...tailLines].join("\n");
}

/**
 * The report as `--json` prints it: the computed fields and the recorded ones,
 * flattened. With no supervisor, nothing recorded about running processes is
 * passed on as if it were current: pid, pgid and instances are those still alive.
 */
export function reportJson(report: StatusReport): Record<string, unknown> {
  const { record, ...computed } = report;
  if (!record) return { ...computed, pid: null, pgid: null };
  const { format: _, service: _s, role: _r, state: _st, supervisor: _su, ...recorded } = record;
  if (report.supervisor.running) return { ...recorded, ...computed };
  const alive = record.instances.filter((instance) => report.unsupervised.includes(instance.pid));
  return {
    ...recorded,
    ...computed,
    pid: alive[0]?.pid ?? null,
    pgid: alive[0]?.pgid ?? null,
    instances: alive,
    nextRestart: null,
    killAt: null,
    crashLoop: null,
  };
}

/**
 * The exit code for a set of reports: 3 when some service has no supervisor,
 * 1 when some is not up (or up but not ready yet, with a notification-fd), else 0.
 */
export function statusExitCode(reports: StatusReport[]): number {
  if (reports.some((report) => !report.supervisor.running)) return ExitCode.notRunning;
  // Up but not ready yet (notification-fd) is not up for a script either.
  const up = (report: StatusReport) =>
    report.state === "up" && (report.record === null || isReady(report.record));
  if (!reports.every(up)) return ExitCode.failure;
  return ExitCode.ok;
}

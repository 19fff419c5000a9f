/**
 * The supervisor: one process that keeps a service (and its `log/` service)
 * running. One event loop owns all state: signal listeners (CHLD, TERM, INT, QUIT, HUP),
 * timers and control-socket requests only queue events, and {@linkcode Supervisor}
 * applies them one at a time, then writes each service's status file.
 *
 * It is a child subreaper (`PR_SET_CHILD_SUBREAPER`): whatever a service orphans
 * is handed to it, reaped with `waitpid(-1)`, and killed with the service. For
 * that reason this process never uses `Deno.Command` (whose children
 * `waitpid(-1)` would steal): services start through `spawnProgram`.
 *
 * @module
 */

import { getLogger, type Logger } from "@logtape/logtape";
import { ExitCode, OpsdError, UsageError } from "../errors.ts";
import { dirname } from "../path.ts";
import { logParentOf } from "./late_log.ts";
import { type Credentials, resolveCredentials } from "../process/credentials.ts";
import { signalIfAlive } from "../process/signal.ts";
import { childrenOf } from "../procfs/processes.ts";
import { isLive, readProcStat } from "../procfs/stat.ts";
import { runFileProblem, type ServicePaths } from "../service/paths.ts";
import { loadSettings, type RawSettings, type ServiceSettings } from "../service/settings.ts";
import { O, PR, SIGNALS } from "../sys/constants.ts";
import {
  close,
  isErrno,
  open,
  pipe2,
  prctl,
  setPipeSize,
  waitpid,
  type WaitStatus,
} from "../sys/libc.ts";
import {
  type ControlReply,
  type ControlRequest,
  type ControlServer,
  serveControl,
} from "./control.ts";
import { messagesTo, messagesToFile } from "./messages.ts";
import { checkLogFile } from "./output/logfile.ts";
import { ServiceOutput } from "./output/output.ts";
import { BoundedWriter } from "./output/writer.ts";
import { SupervisedService, type TimerKind } from "./service.ts";
import { CONTROL_WORDS } from "./words.ts";
import {
  acquireLock,
  detachedLogFile,
  isStateDirAt,
  messagesPath,
  type PinnedStateDir,
  readStatus,
  releaseLock,
  type StateLock,
  writeStatus,
} from "./state.ts";
import { describeExiting, type ServiceStatus } from "./status.ts";
import { fileError } from "../file_error.ts";
import { errorCode } from "../sys/errno.ts";
import { delay, within } from "../within.ts";
import { suggestCommand } from "../text/command.ts";
import { QUIET_ENDING_SIGNALS } from "../sys/signals.ts";

/** What `opsd supervise` asks for. */
export interface SuperviseOptions {
  /** The service (its `log/` service, if any, comes along). */
  paths: ServicePaths;
  /** Settings from flags, over the service's settings file (main service only). */
  flags?: RawSettings;
  /**
   * Called once, when every service has been started (or failed to start, or is
   * wanted down): what `--ready-fd` reports to a parent waiting for it. When a
   * first start failed, the supervisor then takes everything down and exits with
   * that start's code (126, 127): the parent is told, and nothing is left behind.
   */
  onReady?: (report: ReadyReport) => void;
  /**
   * Running in the background with no terminal (`--detached`): a service without
   * `log-file` logs to `current` in its state directory, so no output is lost, and
   * the supervisor's own messages go to `opsd.log` there.
   */
  detached?: boolean;
}

/** What the supervisor reports once it is running and the services have been started. */
export interface ReadyReport {
  supervisorPid: number;
  /** Each service's path and pid (null when it is wanted down or failed to start). */
  services: { path: string; pid: number | null }[];
  /** The first service whose first start failed: why, and the exit code that says so. */
  failed: { path: string; message: string; code: number } | null;
}

type _Event =
  | { type: "start" }
  | { type: "child" }
  | { type: "poll" }
  | { type: "signal"; signal: "SIGTERM" | "SIGINT" | "SIGQUIT" | "SIGHUP" }
  | { type: "timer"; service: SupervisedService; kind: TimerKind; token: number }
  | { type: "ready"; service: SupervisedService; id: string }
  | {
    type: "control";
    service: SupervisedService;
    request: ControlRequest;
    reply: (reply: ControlReply) => void;
  };

/** One service's settings and credentials, checked before anything starts. */
interface _Prepared {
  paths: ServicePaths;
  role: "main" | "log";
  settings: ServiceSettings;
  credentials?: Credentials;
}

const _POLL_INTERVAL = 10_000;
/** How often it looks whether a service directory was moved or replaced (one stat each). */
const _LOOK_INTERVAL = 1000;
const _PIPE_SIZE = 1 << 20;
const _DRAIN_TIMEOUT = 3000;

/**
 * Supervises `options.paths` in this process until TERM, INT or `opsd exit`, then
 * returns the exit code (0). Throws an OpsdError before anything starts when the
 * service cannot be supervised: no runnable `run` (127/126), bad settings (2),
 * another supervisor holds it (5).
 */
export async function supervise(options: SuperviseOptions): Promise<number> {
  const detached = options.detached ?? false;
  const parent = logParentOf(options.paths);
  if (parent) {
    throw new UsageError(
      `${options.paths.path} is the log service of ${parent.path}: it is supervised with that ` +
        "service, which feeds it (alone it would read nothing): run " +
        suggestCommand("opsd", "supervise", parent.path),
    );
  }
  const prepared = [_prepare(options.paths, "main", options.flags ?? {}, detached)];
  if (options.paths.log) prepared.push(_prepare(options.paths.log, "log", {}, detached));
  const held: StateLock[] = [];
  try {
    for (const { paths } of prepared) held.push(acquireLock(paths));
  } catch (error) {
    held.forEach(releaseLock);
    throw error;
  }
  const supervisor = await Supervisor.open(prepared, held, detached, options.onReady);
  return await supervisor.run();
}

function _prepare(
  paths: ServicePaths,
  role: "main" | "log",
  flags: RawSettings,
  detached: boolean,
): _Prepared {
  // A run file missing (127) or not executable (126) is refused, saying what to do.
  const problem = runFileProblem(paths);
  if (problem) throw problem;
  const { settings, sourceOf } = loadSettings(paths, flags);
  if (settings.logFile !== null) {
    _checkLogFile(settings.logFile, sourceOf("log-file"));
  } else if (detached) {
    // Output has nowhere else to go: it is logged in the state directory (which taking
    // the lock makes, or refuses in one line naming its owner).
    settings.logFile = detachedLogFile(paths);
  }
  const credentials = settings.user === null && settings.group === null
    ? undefined
    : resolveCredentials(settings.user ?? undefined, settings.group ?? undefined, {
      user: sourceOf("user"),
      group: sourceOf("group"),
    });
  return { paths, role, settings, credentials };
}

/**
 * Refuses a log file that cannot be opened (exit 2, or 4 for permission), naming its
 * setting. A full disk is no reason to keep the service down: its output is then
 * dropped and counted, and logged again once there is space, as when the disk fills
 * while it runs.
 */
function _checkLogFile(path: string, where: string): void {
  try {
    checkLogFile(path);
  } catch (error) {
    const errno = errorCode(error);
    if (errno === "ENOSPC" || errno === "EDQUOT") return;
    if (error instanceof Deno.errors.NotFound) {
      // Its directory exists (it was just made): a file system that makes no files, as /proc.
      throw new UsageError(`${where}: cannot create the log file ${path}: choose another path`);
    }
    if (error instanceof Deno.errors.AlreadyExists) {
      // Making its directory met a file of that name.
      throw new UsageError(
        `${where}: cannot create the log file ${path}: ${dirname(path)} is not a directory: ` +
          "choose another path",
      );
    }
    const failure = fileError("open the log file", path, error);
    const code = failure instanceof OpsdError ? failure.exitCode : ExitCode.failure;
    throw new OpsdError(`${where}: ${failure.message}`, code, { cause: error });
  }
}

/** The event loop over a set of services; see the module doc. */
class Supervisor {
  #identity: Omit<ServiceStatus["supervisor"], "exiting">;
  #services: SupervisedService[] = [];
  #owners = new Map<number, { service: SupervisedService; role: "main" | "finish" }>();
  /** Orphans handed to us (subreaper), each with the service it was attributed to. */
  #orphans = new Map<number, SupervisedService>();
  #queue: _Event[] = [];
  #wake: (() => void) | null = null;
  #childQueued = false;
  /** Each service's locks and state directory, held until the very end. */
  #held: StateLock[];
  #controls: ControlServer[] = [];
  /** Each service's output, in the order of `#services`. */
  #outputs: ServiceOutput[] = [];
  #fds: number[] = [];
  #forward: { out: BoundedWriter; err: BoundedWriter };
  #onReady?: (report: ReadyReport) => void;
  /** Whether every service has settled and `#onReady` (if any) has been told. */
  #readyReported = false;
  #log: Logger;
  #statusFailed = false;
  /** What each status file holds now (without its time of writing), to skip writes that change nothing. */
  #written = new Map<SupervisedService, string>();
  /** Each service's state directory, held open since its lock was taken. */
  #stateDirs = new Map<SupervisedService, PinnedStateDir>();
  #previous: (ServiceStatus | null)[];
  /** Why the supervisor is exiting (`opsd exit`, `TERM received`…), or null while it supervises. */
  #exitReason: string | null = null;
  /** The loop is over: control requests are answered at once, without the loop. */
  #ended = false;
  #exitCode: number = ExitCode.ok;
  /** Our copy of the log pipe's write end, closed when exiting so the log service sees end of file. */
  #logPipeWriter: number | null = null;

  constructor(
    prepared: _Prepared[],
    held: StateLock[],
    detached: boolean,
    onReady?: (report: ReadyReport) => void,
  ) {
    this.#held = held;
    this.#onReady = onReady;
    this.#log = getLogger(["opsd", "supervise"]).with({ service: prepared[0].paths.path });
    const self = readProcStat("self");
    this.#identity = {
      pid: Deno.pid,
      procStart: self?.startTime ?? 0,
      started: new Date().toISOString(),
      detached,
    };
    this.#forward = this.#forwardWriters(prepared);
    // Its own messages never make its loop wait either: they go with its services' stderr or,
    // detached, into the state directory it holds, as its status file does.
    if (detached) messagesToFile(messagesPath(prepared[0].paths), held[0].dir.path);
    else messagesTo(this.#forward.err);
    this.#previous = prepared.map(({ paths }) => {
      try {
        return readStatus(paths);
      } catch (error) {
        // Replaced by this supervisor's first record; nothing left behind can be found from it.
        this.#log.warn("previous status not used: {error}", { error: (error as Error).message });
        return null;
      }
    });
  }

  /**
   * A supervisor of the `prepared` services, whose locks (`held`) are taken, ready to
   * run; or, when making what it needs fails, the error, after everything it took —
   * locks included — was let go of.
   */
  static async open(
    prepared: _Prepared[],
    held: StateLock[],
    detached: boolean,
    onReady?: (report: ReadyReport) => void,
  ): Promise<Supervisor> {
    const supervisor = new Supervisor(prepared, held, detached, onReady);
    try {
      supervisor.#open(prepared, held);
    } catch (error) {
      await supervisor.#abandon();
      throw error;
    }
    return supervisor;
  }

  /** Writers to this process's stdout and stderr for the services' forwarded output. */
  #forwardWriters(prepared: _Prepared[]): { out: BoundedWriter; err: BoundedWriter } {
    // Lines forwarded to this process's stdout and stderr wait for a slow reader as
    // long as a log file would (the largest log-buffer), then are dropped and marked.
    const forward = {
      capacity: Math.max(...prepared.map((spec) => spec.settings.logBuffer)),
      marker: (bytes: number) =>
        new TextEncoder().encode(
          `opsd: dropped ${bytes} bytes of output: the reader fell behind\n`,
        ),
    };
    // A reader that is gone (EPIPE) loses the output: said once a minute, counted per service.
    const failed = (stream: string) => ({
      onError: _rateLimited((error) =>
        this.#log.error(
          "writing to {stream}: {error}; services' output to it is dropped (counted in status)",
          { stream, error: error.message },
        )
      ),
    });
    return {
      out: new BoundedWriter(Deno.stdout, { ...forward, ...failed("stdout") }),
      err: new BoundedWriter(Deno.stderr, { ...forward, ...failed("stderr") }),
    };
  }

  /**
   * Makes what supervising needs — /dev/null, the log pipe, each service's output and
   * control socket — keeping each in a field as it is made, so that `#abandon` finds it.
   */
  #open(prepared: _Prepared[], held: StateLock[]): void {
    const devNull = open("/dev/null", O.RDWR | O.CLOEXEC);
    this.#fds.push(devNull);
    // main's stdout → log's stdin: made once and held here, so neither side's restart loses lines.
    const logPipe = prepared.length > 1 ? pipe2(O.CLOEXEC) : null;
    if (logPipe) {
      this.#fds.push(logPipe[0]);
      this.#logPipeWriter = logPipe[1];
      _growPipe(logPipe[1]);
    }
    for (const [index, spec] of prepared.entries()) {
      const logger = getLogger(["opsd", "supervise"]).with({ service: spec.paths.path });
      const output = new ServiceOutput({
        settings: spec.settings,
        forward: this.#forward,
        devNull,
        stdin: spec.role === "log" ? logPipe?.[0] : undefined,
        stdout: spec.role === "main" ? logPipe?.[1] : undefined,
        logDir: _inStateDir(spec, held[index].dir),
        onChange: () => this.#services[index]?.outputChanged(),
        onError: _rateLimited((error) => logger.error("{error}", { error: error.message })),
      });
      this.#outputs.push(output);
      output.fds.slice(1).forEach(_growPipe);
      const service = new SupervisedService({ ...spec, output, logger, host: this });
      this.#stateDirs.set(service, held[index].dir);
      this.#services.push(service);
    }
    for (const service of this.#services) {
      this.#controls.push(
        serveControl(
          service.paths,
          this.#stateDirs.get(service)!,
          (request) =>
            this.#ended
              ? Promise.resolve(this.#replyAfterLoop(service, request))
              : new Promise((reply) => this.#post({ type: "control", service, request, reply })),
        ),
      );
    }
  }

  /**
   * Lets go of what `#open` had made when it failed, locks last: nothing ran yet, so
   * nothing is reaped or recorded.
   */
  async #abandon(): Promise<void> {
    if (this.#logPipeWriter !== null) close(this.#logPipeWriter);
    this.#logPipeWriter = null;
    await Promise.all([
      ...this.#controls.splice(0).map((control) => control.close()),
      ...this.#outputs.splice(0).map((output) => output.close()),
    ]);
    for (const fd of this.#fds.splice(0)) close(fd);
    this.#held.splice(0).forEach(releaseLock);
  }

  /** Runs until every service is down after TERM, INT or `opsd exit`; returns the exit code. */
  async run(): Promise<number> {
    const listeners: [Deno.Signal, () => void][] = [
      ["SIGCHLD", () => this.#postChild()],
      ["SIGTERM", () => this.#post({ type: "signal", signal: "SIGTERM" })],
      ["SIGINT", () => this.#post({ type: "signal", signal: "SIGINT" })],
      ["SIGQUIT", () => this.#post({ type: "signal", signal: "SIGQUIT" })],
      ["SIGHUP", () => this.#post({ type: "signal", signal: "SIGHUP" })],
      // Signals whose default would end the supervisor without a word, its service
      // left unsupervised: said and ignored (SIGUSR1 is ignored by every opsd process).
      ...QUIET_ENDING_SIGNALS.map((signal): [Deno.Signal, () => void] => [
        signal,
        () =>
          this.#log.warn("{signal} received: ignored ({hint})", {
            signal: signal.replace(/^SIG/, ""),
            hint: "TERM, INT or QUIT take the service down and exit; HUP goes to the service",
          }),
      ]),
    ];
    for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
    // Orphans of the services' processes are handed to this process, to be reaped and stopped.
    prctl(PR.SET_CHILD_SUBREAPER, 1);
    // A slow safety net (SIGCHLD is what normally wakes the reaper).
    const poll = setInterval(() => this.#post({ type: "poll" }), _POLL_INTERVAL);
    // A quick look at where the service directories are: after a deploy that replaced one
    // (rm -rf, then a fresh copy), its old service must not run beside the new one for long.
    const look = setInterval(() => {
      if (this.#movedService()) this.#post({ type: "poll" });
    }, _LOOK_INTERVAL);
    this.#post({ type: "start" });
    try {
      while (!(this.exiting && this.#services.every((service) => service.idle))) {
        const event = await this.#next();
        try {
          await this.#claimOrphans();
          await this.#reap();
          await this.#apply(event);
        } catch (error) {
          // One failed event must not end supervision: say so, answer, carry on.
          const message = (error as Error).message;
          this.#log.error("while handling {event}: {message}", { event: event.type, message });
          if (event.type === "control") event.reply({ ok: false, error: message });
        }
        if (this.exiting) this.#takeDownLogServices();
        this.#writeStatuses();
        if (!this.#readyReported && this.#services.every((service) => service.settled)) {
          this.#readyReported = true;
          this.#reportReady();
        }
      }
    } finally {
      clearInterval(poll);
      clearInterval(look);
      for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
      await this.#teardown();
    }
    return this.#exitCode;
  }

  // --- ServiceHost ---

  /**
   * True while a failed start would end the supervisor: a starter waits for its
   * readiness report (`--ready-fd`, `--daemon`), which has not been sent yet.
   */
  get endsOnFailedStart(): boolean {
    return this.#onReady !== undefined && !this.#readyReported;
  }

  /** True once it began taking everything down to exit (`supervisor.exiting` says why). */
  get exiting(): boolean {
    return this.#exitReason !== null;
  }

  /** This supervisor as status records name it, with why it is exiting. */
  get supervisor(): ServiceStatus["supervisor"] {
    return { ...this.#identity, exiting: this.#exitReason };
  }

  /** Queues a service's timer as an event. */
  timerFired(service: SupervisedService, kind: TimerKind, token: number): void {
    this.#post({ type: "timer", service, kind, token });
  }

  /** Queues a run's readiness (it wrote a newline on its notification-fd) as an event. */
  readinessReported(service: SupervisedService, id: string): void {
    this.#post({ type: "ready", service, id });
  }

  /** Records `pid` as a service's main process or finish. */
  own(pid: number, service: SupervisedService, role: "main" | "finish"): void {
    this.#owners.set(pid, { service, role });
  }

  /** Forgets a reaped pid. */
  disown(pid: number): void {
    this.#owners.delete(pid);
  }

  /** Whether the service's directory is still where this supervisor found it. */
  inPlace(service: SupervisedService): boolean {
    return isStateDirAt(service.paths, this.#stateDirs.get(service)!);
  }

  /** Takes everything down and exits with exit code 1, `reason` saying why. */
  giveUp(reason: string): void {
    this.#exitCode = ExitCode.failure;
    this.#beginExit(reason);
  }

  // --- the loop ---

  #post(event: _Event): void {
    this.#queue.push(event);
    this.#wake?.();
    this.#wake = null;
  }

  #postChild(): void {
    if (this.#childQueued) return;
    this.#childQueued = true;
    this.#post({ type: "child" });
  }

  async #next(): Promise<_Event> {
    while (this.#queue.length === 0) await new Promise<void>((wake) => this.#wake = wake);
    const event = this.#queue.shift()!;
    if (event.type === "child") this.#childQueued = false;
    return event;
  }

  async #apply(event: _Event): Promise<void> {
    switch (event.type) {
      case "start":
        for (const [index, service] of [...this.#services.entries()].reverse()) {
          // The log service first, so that it reads from the start.
          if (!await service.adoptLeftovers(this.#previous[index])) await service.startIfWanted();
        }
        break;
      case "child":
        break; // #reap already ran.
      case "poll":
        this.#leaveIfMoved();
        break;
      case "signal":
        if (event.signal === "SIGHUP") {
          await this.#services[0].control("hup");
        } else if (!this.exiting) {
          const signal = event.signal.replace(/^SIG/, "");
          this.#log.info("{signal} received: taking the service down, then exiting", { signal });
          this.#beginExit(`${signal} received`);
        }
        break;
      case "timer":
        await event.service.timer(event.kind, event.token);
        break;
      case "ready":
        event.service.markReady(event.id);
        break;
      case "control":
        event.reply(await this.#control(event.service, event.request));
        break;
    }
  }

  /**
   * A service directory moved or removed (rm -rf, or a deploy that made it again) is
   * no longer this supervisor's: as runsvdir and s6-svscan do for a directory that
   * went away, take everything down and exit (1), so that its service does not run
   * on beside what a new supervisor starts there.
   */
  #leaveIfMoved(): void {
    if (this.exiting) return;
    const moved = this.#movedService();
    if (!moved) return;
    this.#log.error("{path} was moved or removed: taking the service down, then exiting", {
      path: moved.paths.path,
    });
    this.giveUp("its service directory was moved or removed");
  }

  /** The main service whose directory is no longer where this supervisor found it, if any. */
  #movedService(): SupervisedService | undefined {
    return this.#services.find((service) => service.role === "main" && !this.inPlace(service));
  }

  async #control(service: SupervisedService, request: ControlRequest): Promise<ControlReply> {
    const { command } = request;
    const starts = command === "up" || command === "once" || command === "restart";
    // A word that would start a run of a directory moved meanwhile: give up first, then refuse.
    if (starts) this.#leaveIfMoved();
    const settled = this.#replyUnapplied(service, command);
    if (settled) return settled;
    if (command === "exit") {
      this.#log.info("exit requested: taking the service down, then exiting");
      this.#beginExit("opsd exit");
    } else if (command !== "status") {
      const error = await service.control(command);
      if (error !== null) return { ok: false, error };
      // A start it gave up on (its directory moved): refused as while exiting, not done.
      if (this.exiting && starts) return this.#exitingRefusal();
    }
    return { ok: true, status: service.status() };
  }

  /**
   * The reply to a request that is not carried out as usual, or null to carry it out.
   * `exit` sent to a log service is refused: it would end the main service too.
   * While exiting, `status`, `down` and `exit` are answered with the status (they want
   * what is happening); a word that would start or keep a service (up, once, restart) is
   * refused, and so is a signal with no process left to take it (a signal to a process
   * still running is sent: `opsd kill` hurries the exit).
   */
  #replyUnapplied(
    service: SupervisedService,
    command: ControlRequest["command"],
  ): ControlReply | null {
    if (command === "exit" && service.role === "log") {
      const main = this.#services[0].paths.path;
      const exit = suggestCommand("opsd", "exit", main);
      const restart = suggestCommand("opsd", "restart", service.paths.path);
      const error = `${service.paths.path} is the log service of ${main}: exit ends their one ` +
        `supervisor, taking both down; to do that, use ${exit}; to restart the logger, ${restart}`;
      return { ok: false, error };
    }
    if (!this.exiting) return null;
    if (command === "status" || command === "down" || command === "exit") {
      return { ok: true, status: service.status() };
    }
    if (CONTROL_WORDS[command].signal !== null && service.pid !== null) return null;
    return this.#exitingRefusal();
  }

  /** The refusal of a word that would run a service of a supervisor that is exiting. */
  #exitingRefusal(): ControlReply {
    const why = this.#exitReason ?? "an error ended its loop";
    return { ok: false, error: describeExiting(why, this.#services[0].paths.path) };
  }

  #beginExit(reason: string): void {
    this.#exitReason = reason;
    for (const service of this.#services) {
      if (service.role === "main") service.takeDown("exit");
    }
    this.#takeDownLogServices();
  }

  /**
   * While exiting, once the main service is down: close the log pipe so the log
   * service reads to its end and exits by itself (it is stopped after its stop
   * timeout if it does not), so that the last lines are logged too.
   */
  #takeDownLogServices(): void {
    if (this.#services.some((service) => service.role === "main" && !service.idle)) return;
    if (this.#logPipeWriter !== null) close(this.#logPipeWriter);
    this.#logPipeWriter = null;
    for (const service of this.#services) {
      if (service.role === "log") service.letEnd();
    }
  }

  /**
   * Attributes each child the kernel handed to us since the last event (we are a
   * subreaper: a service's process whose parent died becomes ours) to a service:
   * the one whose running process, stop or finish shares its session or process
   * group; else, having left both (setsid), the main service. That service stops
   * it with its own processes. Runs before every event, so an orphan is known
   * before the exit, stop or control request that concerns it is applied.
   */
  async #claimOrphans(): Promise<void> {
    for (const pid of childrenOf("self")) {
      if (this.#owners.has(pid) || this.#orphans.has(pid)) continue;
      const stat = readProcStat(pid);
      if (!stat || !isLive(stat)) continue; // gone, or reaped next
      const service = this.#services.find((s) => s.claims(stat.sid, stat.pgid)) ??
        this.#services[0];
      this.#orphans.set(pid, service);
      await service.adoptOrphan({ pid, procStart: stat.startTime });
    }
  }

  /** Collects every exited child and hands each to the service it belongs to. */
  async #reap(): Promise<void> {
    for (;;) {
      let status: WaitStatus | null;
      try {
        status = waitpid(-1);
      } catch (error) {
        if (isErrno(error, "ECHILD")) return;
        throw error;
      }
      if (status === null) return;
      const owner = this.#owners.get(status.pid);
      if (!owner) {
        this.#orphans.delete(status.pid); // An orphan handed to us (subreaper): reaped.
        continue;
      }
      if (owner.role === "main") await owner.service.mainExited(status);
      else await owner.service.finishExited(status);
    }
  }

  /** Writes each service's status file, when anything in it but the time of writing changed. */
  #writeStatuses(): void {
    for (const service of this.#services) {
      const status = service.status();
      const content = JSON.stringify({ ...status, updated: null });
      if (this.#written.get(service) === content) continue;
      try {
        writeStatus(service.paths, status, this.#stateDirs.get(service)!.path);
        this.#written.set(service, content);
        this.#statusFailed = false;
      } catch (error) {
        if (!this.#statusFailed) {
          this.#log.error("cannot write the status file {error}", {
            error: (error as Error).message,
          });
        }
        this.#statusFailed = true;
      }
    }
  }

  /** Tells the parent (if one listens) how the start went; a failed first start ends supervision. */
  #reportReady(): void {
    if (!this.#onReady) return;
    const broken = this.#services.find((service) => service.startError !== null);
    const failed = broken ? { path: broken.paths.path, ...broken.startError! } : null;
    this.#onReady({
      supervisorPid: Deno.pid,
      services: this.#services.map((service) => ({ path: service.paths.path, pid: service.pid })),
      failed,
    });
    if (failed) {
      this.#log.error("the first start failed: taking everything down, then exiting {code}", {
        code: failed.code,
      });
      this.#exitCode = failed.code;
      this.#beginExit("its first start failed");
    }
  }

  /**
   * The reply to a request once the loop is over (every service is down): it is
   * never carried out, but answered as while exiting, so no request goes unanswered.
   */
  #replyAfterLoop(service: SupervisedService, request: ControlRequest): ControlReply {
    return this.#replyUnapplied(service, request.command) ?? this.#exitingRefusal();
  }

  /**
   * After the last service went down: nothing of ours may outlive us, then release
   * everything. Control requests are answered until the end (as while exiting), and
   * the control sockets are closed last, just before the locks are released.
   */
  async #teardown(): Promise<void> {
    this.#ended = true;
    for (const event of this.#queue.splice(0)) {
      if (event.type === "control") event.reply(this.#replyAfterLoop(event.service, event.request));
    }
    for (const service of this.#services) service.cancelTimers();
    // Children that arrived after their service's last stop: not left behind.
    for (const child of childrenOf("self")) {
      if (signalIfAlive(child, SIGNALS.SIGKILL)) {
        this.#log.warning("killed pid {pid}, which a service orphaned as it went down", {
          pid: child,
        });
      }
    }
    const deadline = Date.now() + _DRAIN_TIMEOUT;
    while (Date.now() < deadline) {
      await this.#reap();
      if (childrenOf("self").length === 0) break;
      await delay(20);
    }
    this.#writeStatuses();
    for (const fd of this.#fds.splice(0)) close(fd);
    if (this.#logPipeWriter !== null) close(this.#logPipeWriter);
    this.#logPipeWriter = null;
    await within(Promise.all(this.#outputs.map((output) => output.close())), _DRAIN_TIMEOUT);
    // A reader of our stdout or stderr that does not read (a stopped `| less`) loses the rest.
    await within(
      Promise.all([this.#forward.out.flush(), this.#forward.err.flush()]),
      _DRAIN_TIMEOUT,
    );
    await Promise.all(this.#controls.map((control) => control.close()));
    // Last: the control sockets were removed from the state directories through them.
    this.#held.splice(0).forEach(releaseLock);
  }
}

/**
 * How a service's log file's directory is reached when it is the state directory
 * (`current` under --daemon): through `dir`, held open, as its status file is;
 * else undefined (by its path).
 */
function _inStateDir(spec: _Prepared, dir: PinnedStateDir): string | undefined {
  const { logFile } = spec.settings;
  return logFile !== null && dirname(logFile) === spec.paths.stateDir ? dir.path : undefined;
}

/** Grows a pipe so that bursts wait in the kernel; a pipe that cannot grow still works. */
function _growPipe(fd: number): void {
  try {
    setPipeSize(fd, _PIPE_SIZE);
  } catch {
    // Not allowed above pipe-max-size for non-root: keep the default size.
  }
}

/** `report`, but at most once a minute (a full disk fails every write). */
function _rateLimited(report: (error: Error) => void): (error: Error) => void {
  let last = 0;
  return (error) => {
    if (Date.now() - last < 60_000) return;
    last = Date.now();
    report(error);
  };
}

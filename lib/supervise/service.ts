/**
 * One supervised service: its wanted state, its running processes, stopping
 * them, `finish`, and restart pacing. A {@linkcode SupervisedService} is changed
 * only by its supervisor's event loop, one event at a time; its timers do
 * nothing but post events.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { withoutHandoff } from "../daemon/env.ts";
import { formatDuration } from "../duration.ts";
import { ExitCode, exitCodeOf } from "../errors.ts";
import { type Credentials, userEnvironment } from "../process/credentials.ts";
import { startEnvironment } from "../process/environment.ts";
import { describeExit } from "../process/exit.ts";
import { signalIfAlive } from "../process/signal.ts";
import { type ProgramFileState, programFileState } from "../process/program.ts";
import { spawnProgram } from "../process/spawn.ts";
import { descendantsOf, isRunning, type ProcessId, procStartOf } from "../procfs/processes.ts";
import type { ServicePaths } from "../service/paths.ts";
import type { ServiceSettings } from "../service/settings.ts";
import { O, SIGNALS } from "../sys/constants.ts";
import { close, pipe2, type WaitStatus } from "../sys/libc.ts";
import { signalName, signalNumber } from "../sys/signals.ts";
import { restartDelay } from "./backoff.ts";
import { readNotification } from "./notification.ts";
import type { ServiceOutput } from "./output/output.ts";
import { INSTANCE_ENV, leftoverProcesses } from "./leftovers.ts";
import { leftovers, newStopJob, signalAll, signalEach, type StopJob } from "./stop.ts";
import type { InstanceStatus, ServiceState, ServiceStatus, Want } from "./status.ts";
import { CONTROL_WORDS, type ControlWord } from "./words.ts";
import { shellQuote } from "../text/command.ts";

/** The timers a service sets; each fires as an event in the supervisor's loop. */
export type TimerKind =
  | "restart"
  | "stable"
  | "check"
  | "kill"
  | "finish-kill"
  | "drain"
  | "output";

/** What a service needs from the supervisor that carries it. */
export interface ServiceHost {
  /** Queues `kind` for `service` as an event, `token` telling a stale timer from a live one. */
  timerFired(service: SupervisedService, kind: TimerKind, token: number): void;
  /** Queues, as an event, that run `id` of `service` said it is ready (notification-fd). */
  readinessReported(service: SupervisedService, id: string): void;
  /** Records `pid` as `service`'s main process or finish, so that its exit reaches it. */
  own(pid: number, service: SupervisedService, role: "main" | "finish"): void;
  /** Forgets a reaped pid. */
  disown(pid: number): void;
  /** True once the supervisor is taking everything down to exit. */
  readonly exiting: boolean;
  /** True while a failed start ends the supervisor (it then exits, without restarting anything). */
  readonly endsOnFailedStart: boolean;
  /** Whether the service's directory is still where the supervisor found it (not moved or removed). */
  inPlace(service: SupervisedService): boolean;
  /** Takes everything down and ends the supervisor with exit code 1, `reason` saying why. */
  giveUp(reason: string): void;
  /** The supervisor as status records name it: pid, start time, start, detached, why exiting. */
  readonly supervisor: ServiceStatus["supervisor"];
}

/** Everything a {@linkcode SupervisedService} is made from. */
export interface ServiceSpec {
  paths: ServicePaths;
  role: "main" | "log";
  settings: ServiceSettings;
  credentials?: Credentials;
  output: ServiceOutput;
  logger: Logger;
  host: ServiceHost;
}

/** A running process of the service. */
interface _Instance extends ProcessId {
  pgid: number;
  startedAt: number;
  /** The mark in its environment (`OPSD_INSTANCE`): see {@linkcode InstanceStatus.id}. */
  id: string;
  /**
   * A control word sent it a signal other than STOP or CONT (`opsd term`, `kill`,
   * `hup`…): its end, soon after, is no quick death (`svc -t` restarts a service).
   */
  signalled?: boolean;
  /** When it said it was ready on its notification-fd (ms), or null (not yet, or not asked). */
  readyAt?: number | null;
}

const _CHECK_INTERVAL = 50;
const _KILL_GRACE = 5000;
const _OUTPUT_WRITE_DELAY = 250;

/** One service under supervision; see the module doc. */
export class SupervisedService {
  readonly paths: ServicePaths;
  readonly role: "main" | "log";
  readonly settings: ServiceSettings;
  readonly output: ServiceOutput;
  want: Want;
  readonly normally: "up" | "down";
  #spec: ServiceSpec;
  #log: Logger;
  #instance: _Instance | null = null;
  #stop: StopJob | null = null;
  /** The finish program running now (in a session of its own). */
  #finish: _Instance | null = null;
  /** Orphans attributed to this service while it runs, stopped with it (see adoptOrphan). */
  #orphans: ProcessId[] = [];
  #restartAt: number | null = null;
  #since = Date.now();
  #starts = 0;
  #quickDeaths = 0;
  #loop = { starts: 0, since: 0 };
  #last: { exitCode: number | null; signal: string | null; ranFor: number | null } = {
    exitCode: null,
    signal: null,
    ranFor: null,
  };
  #error: { message: string; code: number } | null = null;
  #paused = false;
  /** Why the service stays down against its `normally up` (finish's veto), until it starts again. */
  #keptDown: string | null = null;
  /** What the last start was for: `restart` runs a finished `once` service once more, not for good. */
  #startedFor: "up" | "once" = "up";
  /** Why the last run ended, kept from the stop until the restart decision after finish. */
  #restartReason: StopJob["reason"] = "ended";
  /** A `finish` that is not executable (not run) was said to be, once: not after every exit. */
  #finishSkipNoted = false;
  #timers = new Map<TimerKind, { id: ReturnType<typeof setTimeout>; token: number }>();
  #tokens = 0;

  constructor(spec: ServiceSpec) {
    this.#spec = spec;
    this.paths = spec.paths;
    this.role = spec.role;
    this.settings = spec.settings;
    this.output = spec.output;
    this.#log = spec.logger;
    let down = false;
    try {
      down = spec.paths.downFile !== null && Deno.statSync(spec.paths.downFile).isFile;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    this.normally = down ? "down" : "up";
    this.want = this.normally;
  }

  /** No process of the service runs or is being stopped, and no finish runs. */
  get idle(): boolean {
    return this.#instance === null && this.#stop === null && this.#finish === null;
  }

  /**
   * Running and ready (having said so on its notification-fd, when it has one), or
   * failed to start, ran and ended, or wanted down: what --ready-fd waits for.
   */
  get settled(): boolean {
    if (this.#instance !== null) return this.#ready;
    return this.#error !== null || this.want === "down" ||
      (this.#stop === null && this.#starts > 0);
  }

  /** Whether the running process is ready: it said so, or it has no notification-fd to say it on. */
  get #ready(): boolean {
    return this.settings.notificationFd === null || this.#instance?.readyAt != null;
  }

  /** The running main process's pid, or null. */
  get pid(): number | null {
    return this.#instance?.pid ?? null;
  }

  /** Why the last start failed and its exit code (126, 127…), or null. */
  get startError(): { message: string; code: number } | null {
    return this.#error;
  }

  /** The state as status shows it: a crash loop is never "up". */
  get state(): ServiceState {
    if (this.#finish) return "finishing";
    if (this.#stop) return "stopping";
    if (this.#inCrashLoop) return "crash-loop";
    return this.#instance ? "up" : "down";
  }

  /** Quick deaths in a row enough to call it a crash loop, and still wanted up (even between runs). */
  get #inCrashLoop(): boolean {
    return this.#quickDeaths >= this.settings.crashLoopAfter && this.want !== "down";
  }

  /**
   * Takes over processes a dead supervisor left running (recorded in its last
   * status), stopping them before this service starts afresh. Returns whether
   * there were any.
   */
  async adoptLeftovers(previous: ServiceStatus | null): Promise<boolean> {
    const recorded = previous?.instances ?? [];
    const tree = leftoverProcesses(previous);
    if (tree.length === 0) return false;
    const first = recorded.find(isRunning);
    const what = first
      ? `pid ${first.pid} was`
      : `pid ${tree.map((process) => process.pid).join(", ")} (what is left of its sessions) were`;
    this.#note(
      "warning",
      `${what} left running by supervisor pid ${previous!.supervisor.pid}, which is gone: ` +
        `stopping ${first ? "it" : "them"} before starting afresh`,
    );
    // The group is signalled only through a main process known to be the one recorded.
    this.#stop = newStopJob("adopted", first?.pgid ?? null, tree);
    await this.#checkStop();
    return true;
  }

  /** Starts the service if it is wanted up and nothing of it runs. */
  async startIfWanted(): Promise<void> {
    if (this.want !== "down" && this.idle && !this.#spec.host.exiting) await this.#start();
  }

  /** Applies a control word; returns an error message, or null when it was done. */
  async control(word: ControlWord): Promise<string | null> {
    switch (word) {
      case "up":
      case "once":
        this.want = word;
        await this.#startNow();
        return null;
      case "restart":
        if (this.want === "down") this.want = this.#startedFor;
        if (this.#instance) this.#requestStop("restart");
        else await this.#startNow();
        return null;
      case "down":
      case "exit":
        this.takeDown(word);
        return null;
      default:
        return this.#signal(CONTROL_WORDS[word].signal);
    }
  }

  /** Wants the service down and stops what runs of it. */
  takeDown(reason: "down" | "exit"): void {
    this.want = "down";
    this.#keptDown = null;
    this.#cancel("restart");
    this.#restartAt = null;
    if (this.#instance) this.#requestStop(reason);
  }

  /**
   * Wants the service down but lets it end by itself — a log service whose input
   * reached end of file writes out the last lines first — stopping it only if it
   * is still running after the stop timeout.
   */
  letEnd(): void {
    this.want = "down";
    this.#cancel("restart");
    this.#restartAt = null;
    if (this.#instance && !this.#stop && !this.#timers.has("drain")) {
      this.#setTimer("drain", this.settings.stopTimeout);
    }
  }

  /**
   * Whether a process in session `sid` and group `pgid` is this service's: it shares
   * the session or group of its running process, of what is being stopped, or of
   * its finish (each runs in a session of its own).
   */
  claims(sid: number, pgid: number): boolean {
    const own = [this.#instance?.pgid, this.#stop?.pgid, this.#finish?.pid];
    return own.some((id) => id !== undefined && id !== null && (id === sid || id === pgid));
  }

  /**
   * Takes on an orphan the supervisor attributed to this service (see
   * Supervisor.#claimOrphans). While the service runs it is stopped with it; during
   * a stop it joins the stop at once; when nothing of the service runs it is
   * stopped right away (stop signal and CONT, KILL after the stop timeout).
   */
  async adoptOrphan(orphan: ProcessId): Promise<void> {
    const members = [orphan, ...descendantsOf(orphan.pid)];
    const job = this.#stop;
    if (job) {
      job.tree.push(...members);
      this.#note("warning", `pid ${orphan.pid}, orphaned by the service, is stopped with it`);
      if (job.killAt !== null) {
        signalEach(
          members.map((member) => member.pid),
          job.killed ? SIGNALS.SIGKILL : this.settings.stopSignal,
        );
      }
    } else if (this.#instance) {
      this.#orphans.push(orphan);
    } else {
      this.#stop = newStopJob("orphans", null, members);
      this.#note(
        "warning",
        `pid ${orphan.pid}, orphaned by the service, runs while the service does not: stopping it`,
      );
      await this.#checkStop();
    }
  }

  /**
   * The main process `pid` ended with `status` (reaped by the supervisor). What it
   * wrote is logged first, its partial last line ended (ServiceOutput.settle: at
   * most a few ms, 150 ms if a pipe keeps being written), then its exit.
   */
  async mainExited(status: WaitStatus): Promise<void> {
    const instance = this.#instance!;
    const now = Date.now();
    await this.output.settle();
    this.#instance = null;
    this.#spec.host.disown(instance.pid);
    this.#cancel("stable");
    this.#cancel("drain");
    const ranFor = now - instance.startedAt;
    this.#last = {
      exitCode: status.exitCode,
      signal: status.signal === null ? null : signalName(status.signal),
      ranFor,
    };
    this.#since = now;
    this.#paused = false;
    const asked = this.#stop !== null || instance.signalled === true;
    if (!asked) this.#quickDeaths = ranFor < this.settings.stableAfter ? this.#quickDeaths + 1 : 0;
    this.#note(
      asked || status.exitCode === 0 ? "info" : "warning",
      `pid ${instance.pid} ${describeExit(status)} after ${formatDuration(ranFor)}`,
    );
    this.#stop ??= newStopJob("ended", instance.pgid, this.#takeOrphans());
    await this.#checkStop();
  }

  /** The finish program `pid` ended with `status`. */
  async finishExited(status: WaitStatus): Promise<void> {
    const pid = this.#finish!.pid;
    this.#finish = null;
    this.#spec.host.disown(pid);
    this.#cancel("finish-kill");
    // finish ran in a session of its own: nothing of it outlives it.
    signalIfAlive(-pid, SIGNALS.SIGKILL);
    if (status.exitCode !== 0) this.#note("warning", `finish ${describeExit(status)}`);
    await this.#afterFinish(status.exitCode);
  }

  /** A timer set by this service fired (stale ones, cancelled meanwhile, are ignored). */
  async timer(kind: TimerKind, token: number): Promise<void> {
    if (this.#timers.get(kind)?.token !== token) return;
    this.#timers.delete(kind);
    switch (kind) {
      case "restart":
        this.#restartAt = null;
        await this.startIfWanted();
        break;
      case "stable":
        if (this.#quickDeaths >= this.settings.crashLoopAfter) {
          this.#note(
            "info",
            `up for ${formatDuration(this.settings.stableAfter)}: crash loop over`,
          );
        }
        this.#quickDeaths = 0;
        break;
      case "check":
        await this.#checkStop();
        break;
      case "kill":
        await this.#killStop();
        break;
      case "finish-kill":
        if (this.#finish) {
          this.#note(
            "warning",
            `finish still running after ${formatDuration(this.settings.finishTimeout)}: sent KILL`,
          );
          signalIfAlive(-this.#finish.pid, SIGNALS.SIGKILL);
        }
        break;
      case "drain":
        if (this.#instance) this.#requestStop("exit");
        break;
      case "output":
        break; // Only here to get the status (its tail, its dropped count) written.
    }
  }

  /** Asks for a status write soon, after new stderr output or dropped output (coalesced). */
  outputChanged(): void {
    if (!this.#timers.has("output")) this.#setTimer("output", _OUTPUT_WRITE_DELAY);
  }

  /** Cancels every timer (the supervisor is done). */
  cancelTimers(): void {
    for (const kind of [...this.#timers.keys()]) this.#cancel(kind);
  }

  /** The output tail as the status record carries it. */
  #tail(): Pick<ServiceStatus, "tail" | "tailStream"> {
    const { text, stream } = this.output.lastOutput();
    return { tail: text, tailStream: stream };
  }

  /** The status record for this moment. */
  status(): ServiceStatus {
    const instances: InstanceStatus[] = this.#instance ? [_instanceStatus(this.#instance)] : [];
    const killAt = this.#stop?.killAt;
    return {
      format: 1,
      service: this.paths.path,
      role: this.role,
      state: this.state,
      pid: this.#instance?.pid ?? null,
      pgid: this.#instance?.pgid ?? this.#stop?.pgid ?? null,
      notificationFd: this.settings.notificationFd,
      ready: instances[0]?.ready ?? null,
      instances,
      since: new Date(this.#stop && !this.#instance ? this.#stop.since : this.#since).toISOString(),
      starts: this.#starts,
      exitCode: this.#last.exitCode,
      signal: this.#last.signal,
      ranFor: this.#last.ranFor,
      error: this.#error?.message ?? null,
      want: this.want,
      normally: this.normally,
      paused: this.#paused,
      nextRestart: this.#restartAt === null ? null : new Date(this.#restartAt).toISOString(),
      killAt: killAt ? new Date(killAt).toISOString() : null,
      crashLoop: this.#inCrashLoop
        ? { starts: this.#loop.starts, since: new Date(this.#loop.since).toISOString() }
        : null,
      finish: this.#finish ? _instanceStatus(this.#finish) : null,
      ...this.#tail(),
      droppedBytes: this.output.droppedBytes,
      logFile: this.settings.logFile,
      keptDown: this.#keptDown,
      supervisor: this.#spec.host.supervisor,
      updated: new Date().toISOString(),
    };
  }

  async #startNow(): Promise<void> {
    this.#cancel("restart");
    this.#restartAt = null;
    await this.startIfWanted();
  }

  async #start(): Promise<void> {
    this.#cancel("restart");
    this.#restartAt = null;
    // Moved, removed, or removed and made again (a deploy): what is at its path now is
    // not this supervisor's to start (a new supervisor may already run it).
    if (this.role === "main" && !this.#spec.host.inPlace(this)) {
      const message = `${this.paths.path} was moved or removed since its supervisor started`;
      this.#error = { message, code: ExitCode.failure };
      this.#since = Date.now();
      this.#note("error", `cannot start: ${message}: exiting (supervise it where it is now)`);
      this.#spec.host.giveUp("its service directory was moved or removed");
      return;
    }
    if (this.want !== "down") this.#startedFor = this.want;
    this.#keptDown = null;
    const now = Date.now();
    if (this.#quickDeaths === 0) this.#loop = { starts: 0, since: now };
    this.#loop.starts++;
    this.#starts++;
    let pid: number;
    const id = crypto.randomUUID();
    // The service's end of the readiness pipe goes to it alone: ours is closed once it runs.
    let notice: [number, number] | null = null;
    try {
      if (this.settings.notificationFd !== null) notice = pipe2(O.CLOEXEC);
      pid = await this.#spawn([this.paths.run], id, notice?.[1]);
    } catch (error) {
      notice?.forEach(close);
      this.#error = { message: (error as Error).message, code: exitCodeOf(error) };
      this.#last = { exitCode: null, signal: null, ranFor: null };
      this.#since = now;
      this.#quickDeaths++;
      this.#note("error", `cannot start: ${this.#error.message}`);
      // The supervisor reports the failure to its starter and exits: nothing restarts.
      if (this.#spec.host.endsOnFailedStart) return;
      await this.#afterFinish(null);
      return;
    }
    this.#instance = {
      pid,
      pgid: pid,
      procStart: procStartOf(pid) ?? 0,
      startedAt: now,
      id,
      readyAt: null,
    };
    if (notice) {
      close(notice[1]);
      this.#awaitNotification(notice[0], id);
    }
    this.#spec.host.own(pid, this, "main");
    this.#error = null;
    this.#paused = false;
    this.#since = now;
    this.#note("info", `started pid ${pid}`);
    this.#setTimer("stable", this.settings.stableAfter);
  }

  /** Tells the host once run `id` says it is ready on its notification pipe (`fd`, taken over). */
  async #awaitNotification(fd: number, id: string): Promise<void> {
    try {
      if (await readNotification(fd)) this.#spec.host.readinessReported(this, id);
    } catch (error) {
      this.#note("error", `cannot read its notification-fd: ${(error as Error).message}`);
    }
  }

  /** Run `id` said it is ready (notification-fd): recorded while it is still the one running. */
  markReady(id: string): void {
    if (this.#instance?.id !== id || this.#instance.readyAt != null) return;
    this.#instance.readyAt = Date.now();
    this.#note("info", `pid ${this.#instance.pid} is ready`);
  }

  /**
   * Starts `argv` as the service runs: in its directory, its own session, with its
   * fds and user, and the supervisor's environment minus what was handed to it
   * alone, with the user's HOME, USER and LOGNAME when it runs as another user, plus
   * `OPSD_INSTANCE=id`, which marks what it starts as this run's; `notifyFd`, the
   * readiness pipe's write end, becomes its notification-fd.
   */
  #spawn(argv: string[], id: string, notifyFd?: number): Promise<number> {
    const fds: (number | null)[] = [...this.output.fds];
    if (notifyFd !== undefined) {
      const at = this.settings.notificationFd!;
      fds.push(...Array(at - fds.length).fill(null), notifyFd);
    }
    return spawnProgram({
      argv,
      env: {
        ...withoutHandoff(startEnvironment()),
        ...userEnvironment(this.#spec.credentials),
        [INSTANCE_ENV]: id,
      },
      cwd: this.paths.dir,
      fds,
      newSession: true,
      umask: this.settings.umask ?? undefined,
      credentials: this.#spec.credentials,
    });
  }

  #signal(name: string): string | null {
    if (!this.#instance) return `${this.paths.path} is not running: nothing to send ${name} to`;
    signalIfAlive(this.#instance.pid, SIGNALS[name]);
    if (name === "SIGSTOP") this.#paused = true;
    if (name === "SIGCONT") this.#paused = false;
    if (name !== "SIGSTOP" && name !== "SIGCONT") this.#instance.signalled = true;
    this.#note("info", `sent ${name.replace(/^SIG/, "")} to pid ${this.#instance.pid}`);
    return null;
  }

  /** Sends the stop signal and CONT to the whole group (and strays) of the running process. */
  #requestStop(reason: "down" | "restart" | "exit"): void {
    if (this.#stop) {
      if (this.#stop.reason === "restart" && reason !== "restart") this.#stop.reason = reason;
      return;
    }
    const instance = this.#instance!;
    this.#stop = newStopJob(reason, instance.pgid, [
      ...descendantsOf(instance.pid),
      ...this.#takeOrphans(),
    ]);
    this.#sendStopSignal(this.#stop, [instance.pid]);
    this.#note("info", `stopping pid ${instance.pid}: sent ${this.#stopSignalName} to its group`);
  }

  /** The service's orphans still running, with their descendants, handed over to a stop. */
  #takeOrphans(): ProcessId[] {
    const alive = this.#orphans.filter(isRunning);
    this.#orphans = [];
    return alive.flatMap((orphan) => [orphan, ...descendantsOf(orphan.pid)]);
  }

  get #stopSignalName(): string {
    return signalName(this.settings.stopSignal).replace(/^SIG/, "");
  }

  /**
   * Moves a stop along: while the main process runs, wait for it; once it is gone,
   * signal what it left behind (once), and when nothing is left, go on to finish.
   */
  async #checkStop(): Promise<void> {
    const job = this.#stop;
    if (!job || this.#instance) return;
    const left = leftovers(job);
    if (left.length === 0) {
      this.#stop = null;
      this.#cancel("check");
      this.#cancel("kill");
      await this.#afterStop(job);
      return;
    }
    if (job.killAt === null) {
      this.#sendStopSignal(job, left);
      if (job.reason === "ended") {
        this.#note(
          "warning",
          `it left processes behind (${_targets(left)}): sent ${this.#stopSignalName}`,
        );
      }
    }
    this.#setTimer("check", _CHECK_INTERVAL);
  }

  /** The stop timeout passed: KILL everything left; after a grace period, give up on survivors. */
  async #killStop(): Promise<void> {
    const job = this.#stop;
    if (!job) return;
    const left = [
      ...(this.#instance ? [this.#instance.pid] : []),
      ...leftovers(job),
    ];
    if (!job.killed) {
      job.killed = true;
      signalAll(job, SIGNALS.SIGKILL, left);
      this.#note(
        "warning",
        `still running ${formatDuration(this.settings.stopTimeout)} after ${this.#stopSignalName}` +
          ` (${_targets(left)}): sent KILL`,
      );
      this.#setTimer("kill", _KILL_GRACE);
      if (!this.#instance) this.#setTimer("check", _CHECK_INTERVAL);
      return;
    }
    this.#note(
      "error",
      `${_targets(left)} survived KILL (stuck in the kernel?): giving up on them`,
    );
    if (!this.#instance) {
      this.#stop = null;
      this.#cancel("check");
      await this.#afterStop(job);
    }
  }

  /** Sends the stop signal (and CONT) to the job's processes and sets the KILL deadline. */
  #sendStopSignal(job: StopJob, pids: number[]): void {
    job.killAt = Date.now() + this.settings.stopTimeout;
    signalAll(job, this.settings.stopSignal, pids);
    this.#setTimer("kill", this.settings.stopTimeout);
  }

  /** After the processes are gone: run finish (for a run that ended here), then decide. */
  async #afterStop(job: StopJob): Promise<void> {
    if (job.reason === "adopted" || job.reason === "orphans") {
      this.#note("info", `${job.reason === "adopted" ? "leftover" : "orphaned"} processes stopped`);
      // A start due meanwhile waited for this stop; one still scheduled starts on time.
      if (!this.#timers.has("restart")) await this.startIfWanted();
      return;
    }
    const finish = this.paths.finish;
    const state = finish ? _finishState(finish) : "absent";
    if (state === "not executable" && !this.#finishSkipNoted) {
      // As daemontools and runit do, it is not run; but a chmod forgotten is said, once.
      this.#finishSkipNoted = true;
      this.#note(
        "warning",
        `${finish}: not executable, so it is not run: make it executable ` +
          `(chmod +x ${shellQuote(finish!)}) or remove it`,
      );
    }
    if (finish && state === "executable") {
      const { exitCode, signal } = this.#last;
      try {
        const id = crypto.randomUUID();
        const pid = await this.#spawn([
          finish,
          String(exitCode ?? -1),
          String(signal === null ? 0 : signalNumber(signal)),
        ], id);
        this.#finish = {
          pid,
          pgid: pid,
          procStart: procStartOf(pid) ?? 0,
          startedAt: Date.now(),
          id,
        };
        this.#spec.host.own(pid, this, "finish");
        this.#setTimer("finish-kill", this.settings.finishTimeout);
        this.#restartReason = job.reason;
        return;
      } catch (error) {
        this.#note("error", `cannot run finish: ${(error as Error).message}`);
      }
    }
    this.#restartReason = job.reason;
    await this.#afterFinish(null);
  }

  /** The run is over (finish included): stay down, or schedule the next start. */
  async #afterFinish(finishCode: number | null): Promise<void> {
    if (finishCode === 125) {
      this.want = "down";
      this.#keptDown = "finish exited 125";
      this.#note("info", "finish exited 125: not restarting (want down)");
    }
    const reason = this.#restartReason;
    this.#restartReason = "ended";
    // A restart runs a once service once more; any other end of it is its one run.
    if (this.want === "once" && reason !== "restart") this.want = "down";
    if (this.#spec.host.exiting || this.want === "down") return;
    const delay = reason === "restart" ? 0 : restartDelay(this.#quickDeaths, this.settings);
    if (delay === 0) {
      // Orphans still being stopped: their stop starts the service once they are gone.
      if (!this.#stop) await this.#start();
      return;
    }
    this.#restartAt = Date.now() + delay;
    this.#setTimer("restart", delay);
    if (this.#quickDeaths === this.settings.crashLoopAfter) {
      this.#note(
        "warning",
        `crash loop: ${this.#quickDeaths} quick deaths in a row; backing off up to ` +
          formatDuration(this.settings.restartDelayMax),
      );
    }
    this.#note("info", `restarting in ${formatDuration(delay)}`);
  }

  #setTimer(kind: TimerKind, ms: number): void {
    this.#cancel(kind);
    const token = ++this.#tokens;
    const id = setTimeout(() => this.#spec.host.timerFired(this, kind, token), ms);
    this.#timers.set(kind, { id, token });
  }

  #cancel(kind: TimerKind): void {
    const timer = this.#timers.get(kind);
    if (timer) clearTimeout(timer.id);
    this.#timers.delete(kind);
  }

  /** Logs `text` on the supervisor's stderr and as an `opsd` line in the service's log file. */
  #note(level: "info" | "warning" | "error", text: string): void {
    this.#log[level]("{text}", { text });
    this.output.event(text);
  }
}

/** How the finish file stands; one that cannot even be looked at is not run, as one absent. */
function _finishState(path: string): ProgramFileState {
  try {
    return programFileState(path);
  } catch {
    return "absent";
  }
}

/** `group 812, pids 815, 990`: signal targets as a message names them (`-pgid` is a group). */
function _targets(targets: number[]): string {
  const groups = targets.filter((target) => target < 0).map((target) => -target);
  const pids = targets.filter((target) => target > 0);
  return [
    ...(groups.length > 0 ? [`group ${groups.join(", ")}`] : []),
    ...(pids.length > 0 ? [`pid${pids.length > 1 ? "s" : ""} ${pids.join(", ")}`] : []),
  ].join(", ");
}

/** A running process as its status record lists it. */
function _instanceStatus(instance: _Instance): InstanceStatus {
  const status: InstanceStatus = {
    pid: instance.pid,
    pgid: instance.pgid,
    procStart: instance.procStart,
    started: new Date(instance.startedAt).toISOString(),
    id: instance.id,
  };
  // A main process's readiness (a finish has none).
  if (instance.readyAt !== undefined) {
    status.ready = instance.readyAt === null ? null : new Date(instance.readyAt).toISOString();
  }
  return status;
}

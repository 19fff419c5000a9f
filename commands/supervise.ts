/**
 * `opsd supervise SERVICE`: keep a service running in the foreground (or, with
 * `--daemon`, in the background), restart it with backoff, and record its status
 * for `opsd status`.
 *
 * @module
 */

import { releaseOwnPidfile } from "../lib/daemon/pidfile.ts";
import { ExitCode, OpsdError } from "../lib/errors.ts";
import { resolveService, type ServicePaths } from "../lib/service/paths.ts";
import {
  checkSettingValue,
  type SettingKey,
  settingRange,
  SETTINGS,
  settingsFromFlags,
} from "../lib/service/settings.ts";
import {
  startBackgroundSupervisor,
  startBackgroundSupervisorUnlessRunning,
  stopBackgroundSupervisor,
} from "../lib/supervise/background.ts";
import {
  claimReadyFd,
  readyFdFromEnv,
  reportFailure,
  reportReady,
} from "../lib/supervise/ready.ts";
import { parseDuration } from "../lib/duration.ts";
import { CommandLineError } from "../lib/cli/error.ts";
import { defineCommand, type OptionSpecs } from "../lib/cli/spec.ts";
import { intValue, nonEmptyValue } from "../lib/cli/values.ts";
import { writeJson, writeOut, writeProblem } from "../lib/cli/output.ts";
import { errorReason } from "../lib/file_error.ts";
import { suggestCommand } from "../lib/text/command.ts";
import { execWithDebuggerSignalBlocked } from "../lib/process/debugger_signal.ts";

/** The `supervise` command. */
export function superviseCommand() {
  return defineCommand({
    name: "supervise",
    summary: "keep a service running: restart it with backoff, show why it fails",
    description:
      "Run SERVICE in the foreground and keep it running until TERM, INT (Ctrl-C), QUIT or " +
      "'opsd exit SERVICE'; with --daemon, in the background. SERVICE is a directory with an " +
      "executable run file (the daemontools/runit/s6 layout: optional finish, down and log/) " +
      "or an executable script. Settings come from SERVICE/opsd.conf (or SCRIPT.opsd.conf), " +
      "then from these flags.",
    operands: [{
      name: "service",
      help: "service directory, or executable script",
      required: true,
    }],
    options: {
      daemon: {
        help: "run the supervisor in the background; return once the service has started " +
          "(and is ready, with a notification-fd)",
      },
      pidfile: {
        value: "file",
        help: "with --daemon: a pidfile the supervisor holds locked",
        parse: nonEmptyValue("a path"),
      },
      startTimeout: {
        value: "duration",
        help: "with --daemon: how long to wait for the supervisor to start the service (plus " +
          "its stop timeouts when a killed supervisor left it running: that is stopped " +
          "first); 0 waits with no time limit (default: 30s)",
        parse: parseDuration,
      },
      printPid: { help: "with --daemon: print the supervisor's pid" },
      json: { help: "with --daemon: print {pid, pidfile, service, services} as JSON" },
      okIfRunning: {
        help: "with --daemon: a service an opsd supervisor already carries is success (exit " +
          "0, nothing on stderr, whatever its state; --print-pid prints that supervisor's " +
          "pid, --json {pid, service, alreadyRunning: true}), as start-stop-daemon's " +
          "--oknodo: for a crontab line",
      },
      detached: {
        help: "no terminal: log to files in the state directory (how --daemon runs the " +
          "supervisor)",
      },
      readyFd: {
        value: "fd",
        help: "write one readiness line on FD (one the caller opened: FD>FILE or a pipe) " +
          "once the service has started (and is ready, with a notification-fd; default: " +
          "$OPSD_READY_FD)",
        parse: intValue(1),
      },
      ..._settingOptions(),
    },
    after: `
Examples:
  opsd supervise examples/hello                   try it (Ctrl-C stops both)
  opsd supervise /srv/web                         state in /srv/web/supervise/
  opsd supervise ./worker.sh --stop-timeout 30s   state in .worker.sh.opsd/
  opsd supervise /srv/web --log-file log/current --log-max-size 10M --log-keep 5
  opsd supervise --daemon /srv/web                in the background, once up
  opsd supervise --daemon --ok-if-running /srv/web  0, quiet, if already on
  opsd supervise --daemon --pidfile /run/web-supervise.pid /srv/web
  opsd supervise /srv/web --ready-fd 3 3>ready    ready gets '0 supervising …'

Restarts: a run shorter than --stable-after is a quick death; the next start waits
--restart-delay, doubled per further quick death (up to --restart-delay-max, +-20%
jitter). --crash-loop-after quick deaths in a row show as crash-loop in status.
Stopping sends --stop-signal and CONT to the service's whole process group (and to
what it orphaned, also outside its session), then KILL after --stop-timeout. finish
(if executable) runs as 'finish EXITCODE SIGNAL' (EXITCODE -1 when killed by a signal;
SIGNAL 0 when it exited); finish exiting 125 keeps the service down. If the
supervisor is killed (kill -9) the service runs on; 'opsd status' says so, and the
next 'opsd supervise' stops it before starting afresh.

--daemon: the supervisor runs as 'opsd supervise --detached SERVICE' in a session of
its own (stdin /dev/null, cwd /, umask 022); opsd returns once it has started the
service and its log/ service, each ready when it has a notification-fd (or found them
wanted down by a down file: says so on stderr), else prints the supervisor's reason and exits with its code, leaving nothing
running. Detached, a service without log-file logs to 'current' in its state
directory (SERVICE/supervise/current; rotated by --log-max-size and --log-keep) and
the supervisor's own messages go to 'opsd.log' there (rotated at 1 MiB, one old file
kept). Control it with 'opsd down|up|exit|status SERVICE'; with --pidfile also
'opsd daemon status|stop --pidfile FILE'.

--ready-fd FD: one line on FD once every service has started (and is ready, with a
notification-fd): '0 supervising ...', or
'CODE MESSAGE' (the exit code below) when it cannot, and then it exits with CODE;
then FD is let go of.

Exit codes: 0 stopped cleanly (TERM, INT, QUIT or 'opsd exit'; with --daemon:
started), 1 SERVICE was moved or removed while supervised (within a second, or at the
next start, the supervisor takes it down and exits), it could not make its control
socket (a directory in its place), the background supervisor died before it reported, or
--print-pid or --json could not be written (the supervisor is stopped), 2 bad settings,
unknown service, or a log/ service named alone (supervise its service), 4
permission denied, 5 the service already has a supervisor
(its pid is named; with --ok-if-running, 0 when an opsd supervisor carries it and is
not exiting), 6 the background supervisor did not report within
--start-timeout, 126 run is not executable, 127 run not found (with --daemon or
--ready-fd also when the first start of run fails so); with --daemon, 128+N when
interrupted by signal N before the supervisor reported (it is stopped).`,
    run: async (options, [name]) => {
      // A supervisor runs long, often as root: no SIGUSR1 may ever open Deno's debugger in it.
      if (!options.daemon) execWithDebuggerSignalBlocked(Deno.args);
      const flags: Record<string, string | undefined> = {};
      for (const key of Object.keys(SETTINGS) as SettingKey[]) {
        flags[key] = (options as unknown as Record<string, string | undefined>)[_camel(key)];
      }
      if (options.daemon) return await _daemonize(name, flags, options);
      for (const [flag, given] of Object.entries(_DAEMON_ONLY)) {
        if (given(options)) throw new CommandLineError(`${flag} needs --daemon`);
      }
      const readyFd = options.readyFd ?? readyFdFromEnv();
      if (readyFd !== null) claimReadyFd(readyFd);
      let flush = async () => {};
      let reported = false;
      let messages: typeof import("../lib/supervise/messages.ts") | undefined;
      try {
        // Loaded here, not above: only the supervisor needs them (and logtape's node:util).
        const [{ supervise }, loaded] = await Promise.all([
          import("../lib/supervise/supervisor.ts"),
          import("../lib/supervise/messages.ts"),
        ]);
        messages = loaded;
        const paths = resolveService(name);
        flush = messages.configureMessages(paths.path);
        const code = await supervise({
          paths,
          flags: settingsFromFlags(flags),
          detached: options.detached,
          onReady: readyFd === null ? undefined : (report) => {
            reported = true;
            reportReady(readyFd, report);
          },
        });
        releaseOwnPidfile();
        return code;
      } catch (error) {
        if (readyFd === null) throw error;
        if (!reported) reportFailure(readyFd, error);
        // The starter has gone (and stderr may go nowhere): say it where the messages go.
        else messages?.logFatal((error as Error).message);
        throw error;
      } finally {
        await flush();
      }
    },
  });
}

/** One option per setting (`--stop-timeout <duration>`), its text checked with the others. */
function _settingOptions(): OptionSpecs {
  return Object.fromEntries(
    Object.entries(SETTINGS).map(([key, spec]) => {
      const range = settingRange(key as SettingKey);
      const notes = [range, spec.default === "" ? "" : `default: ${spec.default}`].filter(Boolean);
      return [_camel(key), {
        value: spec.value.toLowerCase(),
        help: `${spec.help}${notes.length > 0 ? ` (${notes.join("; ")})` : ""}`,
        parse: (text: string) => checkSettingValue(key as SettingKey, text),
      }];
    }),
  );
}

type _Options = {
  pidfile?: string;
  startTimeout?: number;
  printPid?: true;
  json?: true;
  okIfRunning?: true;
  detached?: true;
  readyFd?: number;
};

/** How long `--daemon` waits for the supervisor to report, when --start-timeout is not given (ms). */
const _START_TIMEOUT = 30_000;

/** Flags that only mean something with --daemon, and whether each was given. */
const _DAEMON_ONLY: Record<string, (options: _Options) => boolean> = {
  "--pidfile": (options) => options.pidfile !== undefined,
  "--start-timeout": (options) => options.startTimeout !== undefined,
  "--print-pid": (options) => options.printPid === true,
  "--json": (options) => options.json === true,
  "--ok-if-running": (options) => options.okIfRunning === true,
};

/** `--daemon`: start the supervisor in the background, wait until it reports, print. */
async function _daemonize(
  name: string,
  flags: Record<string, string | undefined>,
  options: _Options,
): Promise<number> {
  if (options.readyFd !== undefined || options.detached) {
    throw new CommandLineError(
      `--daemon sets up ${options.detached ? "--detached" : "--ready-fd"} itself: leave it out`,
    );
  }
  const paths = resolveService(name);
  const request = {
    paths,
    flags,
    pidfile: options.pidfile,
    timeout: options.startTimeout ?? _START_TIMEOUT,
  };
  const outcome = options.okIfRunning
    ? await startBackgroundSupervisorUnlessRunning(request)
    : { started: await startBackgroundSupervisor(request) };
  if ("running" in outcome) {
    if (options.json) {
      writeJson({ pid: outcome.running, service: paths.path, alreadyRunning: true });
    } else if (options.printPid) writeOut(`${outcome.running}\n`);
    return ExitCode.ok;
  }
  const started = outcome.started;
  try {
    if (options.json) {
      writeJson({
        pid: started.pid,
        pidfile: started.pidfile,
        service: paths.path,
        services: started.services.map(({ service, role, state, pid, want }) => ({
          service,
          role,
          state,
          pid,
          want,
        })),
      }, { lossless: true });
      return ExitCode.ok;
    }
    if (options.printPid) writeOut(`${started.pid}\n`, { lossless: true });
  } catch (error) {
    // A caller that asked for the pid and did not get it cannot manage the supervisor.
    await stopBackgroundSupervisor(started);
    throw new OpsdError(
      `cannot write the supervisor's pid ${started.pid} to stdout: ` +
        `${errorReason(error)}: stopped it and its services, so nothing runs ` +
        "that the caller was not told of",
      ExitCode.failure,
      { cause: error },
    );
  }
  for (const status of started.services) {
    if (status.want === "down") _wantedDown(paths, status.service);
  }
  return ExitCode.ok;
}

function _wantedDown(paths: ServicePaths, service: string): void {
  const path = service === paths.path ? paths : paths.log!;
  writeProblem(
    "opsd supervise",
    `${service} is supervised but not started: it is normally down ` +
      `(${path.downFile} exists): start it with ${suggestCommand("opsd", "up", service)}`,
  );
}

function _camel(key: string): string {
  return key.replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase());
}

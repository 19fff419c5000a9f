/**
 * `opsd daemon`: start a command as a proper daemon (as start-stop-daemon,
 * daemonize and nohup do, but exactly), and `opsd daemon status` / `stop` to ask
 * about and stop it through its pidfile.
 *
 * @module
 */

import { ExitCode, OpsdError } from "../lib/errors.ts";
import { daemonEnvironment, parseEnvSetting } from "../lib/daemon/env.ts";
import { daemonStatus, statusLine } from "../lib/daemon/status.ts";
import { absolutePath, type LiveProcess } from "../lib/daemon/pidfile.ts";
import { startDaemon, startDaemonUnlessRunning, stopStartedDaemon } from "../lib/daemon/start.ts";
import { stopDaemon, type StopResult } from "../lib/daemon/stop.ts";
import { resolveCredentials } from "../lib/process/credentials.ts";
import { signalNumber } from "../lib/sys/signals.ts";
import { formatDuration, parseDuration } from "../lib/duration.ts";
import { parseUmask } from "../lib/umask.ts";
import { CommandLineError } from "../lib/cli/error.ts";
import { defineCommand } from "../lib/cli/spec.ts";
import { nonEmptyValue } from "../lib/cli/values.ts";
import { writeJson, writeOut, writeProblem } from "../lib/cli/output.ts";
import { errorReason } from "../lib/file_error.ts";
import { escapeText } from "../lib/text/escape.ts";
import { shellQuote } from "../lib/text/command.ts";

const _EXIT_CODES =
  `Exit codes: 0 started (CMD has been exec'd), 2 bad option or path (or a --pidfile that
is no pidfile: another file, a directory, a FIFO…: left untouched), 4 permission denied,
5 already running (the pidfile is locked; its holder is named, as 'daemon status' names
it; with --ok-if-running, 0 when that is the daemon of the pid it names), 6 not ready
within --wait-ready, 126 CMD cannot be executed, 127 CMD not found; 1
CMD exited before it was ready, or --print-pid/--json could not be written (the daemon
is stopped), or --log names a FIFO no process reads; with --wait-ready, the CODE of a
'CODE MESSAGE' readiness line, or 128+N when opsd got signal N while waiting (130 for
INT, 143 TERM, 129 HUP): the daemon is stopped.`;

/** A pidfile path: not empty, and a file's (`x.pid/` names a directory that cannot be one). */
function _pidfilePath(text: string): string {
  nonEmptyValue("a path")(text);
  if (text.endsWith("/")) throw new Error("expected a file's path, not one ending in /");
  return text;
}

/** `--pidfile` of `daemon status` and `daemon stop`. */
const _PIDFILE = {
  value: "file",
  help: "the daemon's pidfile",
  parse: _pidfilePath,
  required: true,
} as const;

/** The `daemon` command, with `status` and `stop` beneath it. */
export function daemonCommand() {
  return defineCommand({
    name: "daemon",
    summary: "run a command as a daemon; status and stop it by its pidfile",
    usage: "[options] -- CMD [ARGS...]\n       opsd daemon status|stop --pidfile FILE",
    description: [
      "Start CMD as a daemon: a new session with no controlling terminal, umask 022, " +
      "working directory /, stdin from /dev/null, stdout and stderr to /dev/null (or " +
      "appended to --log), no inherited fd beyond 0-2. opsd exits 0 only once CMD has " +
      "been exec'd; if it cannot be, opsd says why and exits 127 or 126, leaving nothing " +
      "running and no pidfile.",
      "Put -- before CMD. Without it, 'status' and 'stop' are the commands below, and a " +
      "word close to one of them ('stat', 'stpo') is refused as a typo (exit 2) rather than " +
      "started as a program.",
      "With --pidfile the daemon holds an OFD lock on the pidfile through fd 3 for its " +
      "whole life ($OPSD_PIDFILE_FD=3, $OPSD_PIDFILE=the path): a second start is " +
      "refused, 'status' answers from the lock, and a pidfile left by a daemon that " +
      "died is replaced (with a note on stderr when the pid it names is alive: an old " +
      "instance that closed fd 3 would still run).",
      "The daemon starts with the environment opsd was started with (as with " +
      "start-stop-daemon), or an " +
      "empty one with --clear-env, then --env-file files in order, then --env settings. " +
      "An --env-file is read as systemd reads an EnvironmentFile=: KEY=VALUE lines and # or ; " +
      'comment lines; a value may be in \'...\' (taken as it is) or "..." (\\" \\\\ \\$ \\` ' +
      "escaped), either spanning lines; a line ending in a backslash continues on the next one " +
      '(unquoted or in "..."); elsewhere outside quotes a backslash keeps the next character ' +
      "as it is (\\\\ is one backslash). A line that is no setting, a quote never closed or " +
      "text after a closing quote is refused (exit 2), naming the file and line. " +
      "Paths (CMD with a slash, --pidfile, --log, --env-file, --chdir) are relative to " +
      "where opsd runs, and must not be empty. CMD without a slash is looked up in the " +
      "daemon's PATH as execvp would for the daemon's user: a directory that user may not " +
      "search is passed over.",
    ].join("\n\n"),
    operands: [{ name: "command", help: "CMD [ARGS...], after --", variadic: true }],
    options: {
      pidfile: {
        value: "file",
        help: "write the pid here and hold its lock (fd 3) while running",
        parse: _pidfilePath,
      },
      log: {
        value: "file",
        help: "append the daemon's stdout and stderr here (default: /dev/null); a FIFO " +
          "needs its reader running",
        parse: nonEmptyValue("a path"),
      },
      chdir: {
        value: "dir",
        help: "working directory (with --user: one that user may enter)",
        parse: nonEmptyValue("a path"),
        default: "/",
      },
      umask: {
        value: "mask",
        help: "file mode creation mask, in octal",
        parse: parseUmask,
        default: 0o022,
        defaultText: "022",
      },
      user: {
        short: "u",
        value: "user",
        help: "run as this user (name or uid), with its groups, HOME, USER and LOGNAME " +
          "(needs root)",
        parse: nonEmptyValue("a user name or uid"),
      },
      group: {
        short: "g",
        value: "group",
        help: "run with this group (name or gid) instead of the user's; alone: keep opsd's " +
          "user, with this group as its only one",
        parse: nonEmptyValue("a group name or gid"),
      },
      env: {
        value: "KEY=VALUE",
        help: "set a variable (repeatable; wins over --env-file)",
        parse: parseEnvSetting,
        repeat: true,
      },
      envFile: {
        value: "file",
        help: "read KEY=VALUE lines as systemd's EnvironmentFile= (format above; repeatable)",
        parse: nonEmptyValue("a path"),
        repeat: true,
      },
      clearEnv: { help: "start from an empty environment instead of opsd's" },
      waitReady: {
        value: "duration",
        help: "return only once the daemon writes a line to fd $OPSD_READY_FD: empty or " +
          "'0 ...' ready, 'CODE MESSAGE' failed (exit CODE); stop it if it fails, exits, " +
          "closes the fd, takes longer or opsd is interrupted; 0 waits with no time limit",
        parse: parseDuration,
      },
      printPid: {
        help: "print the daemon's pid; if it cannot be written (a full disk, a closed pipe), " +
          "the daemon is stopped and opsd exits 1",
      },
      json: { help: "print {pid, pidfile, command, replaced[, ready]} as JSON" },
      okIfRunning: {
        help: "with --pidfile: a daemon already running under it is success (exit 0, " +
          "nothing on stderr; --print-pid prints its pid, --json {pid, pidfile, " +
          "alreadyRunning: true}), as start-stop-daemon's --oknodo: for a crontab line",
      },
    },
    passThrough: true,
    commands: [_statusCommand(), _stopCommand()],
    after: `
Examples:
  opsd daemon --pidfile /run/web.pid --log /var/log/web.log -- ./server -p 80
  opsd daemon -u www-data --env-file web.env --pidfile /run/web.pid -- ./run
  pid=$(opsd daemon --print-pid -- sleep 600)
  * * * * * opsd daemon --ok-if-running --pidfile /run/web.pid -- ./server
  opsd daemon status --pidfile /run/web.pid
  opsd daemon stop --pidfile /run/web.pid --timeout 30s

${_EXIT_CODES}`,
    // What follows a literal `--` is CMD: `opsd daemon -- stop` runs a program called stop.
    run: async (options, argv) => {
      if (argv.length === 0) {
        throw new CommandLineError(
          "name the command to run: opsd daemon [options] -- CMD [ARGS...]",
        );
      }
      if (options.okIfRunning && options.pidfile === undefined) {
        throw new CommandLineError(
          "--ok-if-running needs --pidfile: without one, opsd cannot tell that it runs",
        );
      }
      const credentials = options.user === undefined && options.group === undefined
        ? undefined
        : resolveCredentials(options.user, options.group);
      const env = daemonEnvironment({
        clear: options.clearEnv,
        credentials,
        files: options.envFile,
        settings: options.env,
      });
      const request = {
        argv,
        env,
        cwd: options.chdir,
        umask: options.umask,
        credentials,
        log: options.log,
        pidfile: options.pidfile,
        readyTimeout: options.waitReady,
      };
      const outcome = options.okIfRunning
        ? await startDaemonUnlessRunning({ ...request, pidfile: options.pidfile! })
        : { started: await startDaemon(request) };
      if ("running" in outcome) {
        const pidfile = absolutePath(options.pidfile!);
        if (options.json) writeJson({ pid: outcome.running, pidfile, alreadyRunning: true });
        else if (options.printPid) writeOut(`${outcome.running}\n`);
        return ExitCode.ok;
      }
      const daemon = outcome.started;
      const { ready, replacedAlive, ...started } = daemon;
      if (replacedAlive) _noteLiveReplaced(started, replacedAlive);
      try {
        if (options.json) {
          const result = { ...started, command: argv, ...(ready === null ? {} : { ready }) };
          writeJson(result, { lossless: true });
        } else if (options.printPid) writeOut(`${daemon.pid}\n`, { lossless: true });
      } catch (error) {
        // A caller that asked for the pid and did not get it cannot manage the daemon.
        await stopStartedDaemon(daemon);
        const removed = daemon.pidfile ? ` and removed ${daemon.pidfile}` : "";
        throw new OpsdError(
          `cannot write pid ${daemon.pid} to stdout: ${errorReason(error)}: stopped it` +
            `${removed}, so no daemon runs that the caller was not told of`,
          ExitCode.failure,
          { cause: error },
        );
      }
      return ExitCode.ok;
    },
  });
}

/**
 * Says on stderr when the pidfile just replaced named a live process: no lock said it
 * was the daemon (it may be an unrelated process that got the pid since), but it may
 * be an old instance that closed its pidfile, now running beside the new one.
 */
function _noteLiveReplaced(
  { pid, pidfile }: { pid: number; pidfile: string | null },
  old: LiveProcess,
): void {
  writeProblem(
    "opsd daemon",
    `note: ${pidfile} named pid ${old.pid} (${old.name}), which is alive but did not hold ` +
      `its lock (pids are reused): if it is an earlier instance that closed fd 3, it still ` +
      `runs beside pid ${pid}; stop it yourself`,
  );
}

function _statusCommand() {
  return defineCommand({
    name: "status",
    summary: "say whether the daemon of a pidfile runs (from its lock)",
    description:
      "Answer from the pidfile's lock, never from a pid that may have been reused: running " +
      "(exit 0, with the pid) while the daemon, or a process that inherited its fd 3, lives. " +
      "A lock held by processes that are neither the pid in the file nor of its session is " +
      "not taken for the daemon: state foreign (exit 1), naming the lock's holders and what " +
      "to do, as 'daemon stop' refuses to signal that pid and 'opsd daemon' to start another " +
      "(exit 5). Most often the program put itself in the background (forked, started a " +
      "session of its own and exited): its child keeps the lock while the pid in the file has " +
      "exited; run it in the foreground instead, with its no-daemonize option (nginx's " +
      "'daemon off;', a -f or --foreground flag). Else the file was rewritten by hand, or an " +
      "unrelated process locked it. " +
      "Run as another user than the daemon's, without root, opsd may not read the fds that " +
      "tell: a locked pidfile is running (exit 0) unchecked, as the file says, or, when its " +
      "pid has exited, held by a process opsd may not see. " +
      "Otherwise not running (exit 3), and the pid in the file is only reported on: if it " +
      "is alive, it may or may not be the daemon (state unlocked); if it has exited, or the " +
      "file holds no pid (empty, or 0), the pidfile is stale. A file nothing locks that holds " +
      "something other than a pid is no pidfile (exit 2).",
    options: {
      pidfile: _PIDFILE,
      json: {
        help: "print {pidfile, state, pid, alive, name, holders, checked} as JSON; state is " +
          "running, foreign, unlocked, stale or missing; alive and name: whether the recorded " +
          "pid is a live process, and its name; holders: [{pid, name}] holding the lock when " +
          "that pid does not (else null); checked: false when opsd may not read the fds " +
          "that would tell (another user's, without root)",
      },
      quiet: { short: "q", help: "print nothing; answer with the exit code alone" },
    },
    after: `
Examples:
  opsd daemon status --pidfile /run/web.pid          running (pid 4242)
  opsd daemon status --pidfile /run/web.pid --json
    {"pidfile":"/run/web.pid","state":"running","pid":4242,"alive":true,
     "name":"server","holders":null,"checked":true}
  opsd daemon status -q --pidfile /run/web.pid && echo running
  opsd daemon --ok-if-running --pidfile /run/web.pid -- ./server

Exit codes: 0 running (the pid is printed), 1 foreign: locked, but not by the pid in the
file nor its session, as when a program put itself in the background (the lock's holders
are named), 3 not running (no pidfile, an unlocked one, or a stale one), 4 pidfile not
readable, 2 bad option, or a --pidfile that is no pidfile (another file, a directory, a
FIFO…).`,
    run: (options) => {
      const found = daemonStatus(options.pidfile);
      if (options.quiet) {
        // Nothing, --json or not, as -q of the control words and of fds.
      } else if (options.json) {
        const { process, holders } = found.state === "missing"
          ? { process: null, holders: null }
          : found;
        writeJson({
          pidfile: found.path,
          state: found.state,
          pid: found.state === "missing" ? null : found.pid,
          alive: process !== null,
          name: process?.name ?? null,
          holders,
          checked: found.state === "missing" || found.owner !== "unchecked",
        });
      } else writeOut(`${statusLine(found)}\n`);
      return found.state === "running"
        ? ExitCode.ok
        : found.state === "foreign"
        ? ExitCode.failure
        : ExitCode.notRunning;
    },
  });
}

function _stopCommand() {
  return defineCommand({
    name: "stop",
    summary: "stop the daemon of a pidfile: signal, wait, SIGKILL after a timeout",
    description: "Send --signal to the pid in the pidfile (only if that process still holds the " +
      "pidfile, so a reused pid is never signalled), wait until the pidfile's lock is " +
      "released (if the pid exits first while processes it started keep the lock, they get " +
      "--signal too), send SIGKILL to every process of the daemon's session after --timeout, " +
      "then remove the pidfile. Quiet on success; says so on stderr when it took SIGKILL. " +
      "A pid that does not hold the pidfile, nor anything in its session, is never " +
      "signalled: stop exits 1 naming the lock's holders. " +
      "A pidfile nothing holds locked is never acted on through its pid: it is removed when " +
      "its pid has exited or it holds none (exit 3); when its pid is alive (it may not be " +
      "the daemon: pids are reused) nothing is signalled, the pidfile is kept, and stop " +
      "exits 1 saying what to check.",
    options: {
      pidfile: _PIDFILE,
      timeout: {
        value: "duration",
        help: "how long to wait before SIGKILL; 0 sends it at once",
        parse: parseDuration,
        default: 10_000,
        defaultText: "10s",
      },
      signal: {
        value: "signal",
        help: "the signal that asks it to stop",
        parse: signalNumber,
        default: 15,
        defaultText: "TERM",
      },
      json: {
        help: "print JSON: {pidfile, outcome: stopped, pid, signal, killed, elapsed}; " +
          "{pidfile, outcome: not-running, pid, alive, stale, removed[, kept: why a stale " +
          "pidfile opsd may not remove stays]}; " +
          "or {pidfile, outcome: unlocked, pid, alive, name}",
      },
      okIfStopped: {
        help: "a daemon that is not running is success (exit 0; nothing on stderr once no " +
          "pidfile is left), as start-stop-daemon's --stop --oknodo: for a crontab line",
      },
    },
    after: `
Examples:
  opsd daemon stop --pidfile /run/web.pid
  opsd daemon stop --pidfile /run/web.pid --signal INT --timeout 30s
  opsd daemon stop --ok-if-stopped --pidfile /run/web.pid   0 if not running

Exit codes: 0 stopped, 1 nothing done: not locked but its pid is alive, or locked but
not by its pid (the lock's holders are named), 3 not running (no pidfile, or a stale
one, now removed, or kept when opsd may not remove it; 0 with --ok-if-stopped, unless
another opsd was replacing the pidfile meanwhile), 4 not allowed to signal it, 6
still holding its lock after SIGKILL, 2 bad option, or a --pidfile that is no pidfile
(another file, a directory, a FIFO…: left untouched).`,
    run: async (options) => {
      const result = await stopDaemon(options.pidfile, {
        signal: options.signal,
        timeout: options.timeout,
      });
      const { path, ...fields } = result;
      if (options.json) writeJson({ pidfile: path, ...fields });
      if (result.outcome === "unlocked") {
        const name = escapeText(result.name), remove = shellQuote(path);
        throw new OpsdError(
          `pidfile ${path} is not locked, so pid ${result.pid} (${name}), which is alive, ` +
            `may not be the daemon (pids are reused): nothing signalled, pidfile kept; ` +
            `check pid ${result.pid}, stop it yourself if it is the daemon, then remove ${remove}`,
        );
      }
      if (result.outcome === "not-running") {
        // Stopped already, and its pidfile gone (by this opsd, or by another stop beside it
        // that was removing it as this one looked): what --ok-if-stopped wants, nothing to say.
        const settled = () =>
          !result.stale || result.removed ||
          (!result.kept && daemonStatus(path).state === "missing");
        if (options.okIfStopped && settled()) return ExitCode.ok;
        writeProblem("opsd daemon stop", `not running: ${_notRunning(result)}`);
        // A stale pidfile kept (read-only) is not running all the same; one another opsd is
        // replacing may be a start.
        return options.okIfStopped && result.kept ? ExitCode.ok : ExitCode.notRunning;
      }
      if (result.killed) {
        writeProblem(
          "opsd daemon stop",
          `pid ${result.pid} did not stop within ${formatDuration(options.timeout)} of ` +
            `${result.signal}: killed its session`,
        );
      }
      return ExitCode.ok;
    },
  });
}

/** Why `daemon stop` found nothing to stop, and what it did with the pidfile. */
function _notRunning(result: StopResult & { outcome: "not-running" }): string {
  const { path, pid } = result;
  if (!result.stale) return `no pidfile ${path}`;
  const what = pid === null
    ? `pidfile ${path} (it held no pid, and no process held its lock)`
    : `stale pidfile ${path} (pid ${pid} had exited)`;
  if (result.removed) return `removed ${what}`;
  return result.kept
    ? `kept ${what}: cannot remove it (${result.kept})`
    : `did not remove ${what}: another opsd was replacing or removing it`;
}

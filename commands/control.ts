/**
 * The control words — `opsd up|down|once|restart|pause|cont|hup|alarm|interrupt|
 * term|kill|exit SERVICE...` — and `opsd svc -udotpchaikx SERVICE...`, their
 * daemontools spelling. One implementation serves every word.
 *
 * @module
 */

import { ExitCode } from "../lib/errors.ts";
import {
  awaitExit,
  combinedExitCode,
  type ControlResult,
  controlService,
  endedAlready,
  SERVICES_AT_ONCE,
} from "../lib/supervise/client.ts";
import { mapLimited } from "../lib/limited.ts";
import { describeExiting, describeStatus, type ServiceStatus } from "../lib/supervise/status.ts";
import { ANSWER_TIMEOUT } from "../lib/supervise/control.ts";
import { describeReport, liveReport, reportJson } from "../lib/supervise/report.ts";
import { parseDuration } from "../lib/duration.ts";
import {
  CONTROL_WORDS,
  type ControlWord,
  wordDone,
  wordForLetter,
} from "../lib/supervise/words.ts";
import { CommandLineError } from "../lib/cli/error.ts";
import { defineCommand } from "../lib/cli/spec.ts";
import { writeJson, writeOut, writeProblem } from "../lib/cli/output.ts";
import { escapeText } from "../lib/text/escape.ts";

const _EXIT_CODES =
  `Exit codes: 0 done (acknowledged by every supervisor; for exit, every supervisor
has ended), 1 refused (e.g. a signal to a service that is not running, up while its
supervisor is exiting, exit to a log/ service), a supervisor closed the connection
without answering but still runs, or, after exit, processes of a service still run,
2 unknown service, 3 no supervisor running for a service (or it exited without
answering), 4 permission denied (run as the supervisor's user or root), 6 a supervisor
did not answer within 5 s (or the --timeout of exit or svc), or did not end within exit's
--timeout; with several
services, the most telling code (2, 3, 4, 6, 1).`;

/** The options every control command takes. */
const _SERVICES = {
  name: "services",
  help: "service directories or scripts",
  required: true,
  variadic: true,
};

const _OPTIONS = {
  json: { help: "print each acknowledged status as status --json does, with done (one per line)" },
  quiet: { short: "q", help: "print nothing on success" },
} as const;

/** The options of the words that end a supervisor (`exit`, `svc -x`): how long to wait for it. */
const _EXIT_OPTIONS = {
  ..._OPTIONS,
  noWait: {
    help: "return once the exit is acknowledged, without waiting for the supervisor to end",
  },
  timeout: {
    value: "duration",
    help: "give up after this long, the asking included (exit 6); 0 waits for the " +
      "supervisor's end as long as it takes (it KILLs what outlives its stop timeout)",
    parse: parseDuration,
    default: 0,
    defaultText: "0",
  },
} as const;

const _EXIT_WAIT =
  `exit waits until the supervisor has ended (its services down, its lock released), so
that 'opsd exit web && opsd supervise --daemon web' finds the service free; it then prints
the service's status as 'opsd status' does. Several services are taken down together. A
supervisor that ends on its own meanwhile (TERM) is waited for alike. Run by the service
itself (its finish), it returns once acknowledged, as with --no-wait.`;

/** `--ok-if-stopped` of the words whose aim is a service that does not run (`down`, `exit`). */
const _OK_IF_STOPPED = {
  okIfStopped: {
    help: "a service no supervisor runs, nor any process of it, is success (exit 0; " +
      "its status printed as 'opsd status' gives it), as start-stop-daemon's --stop --oknodo: " +
      "with -q, for a crontab line",
  },
} as const;

/** What --help says of `--ok-if-stopped`, and a crontab example, for `word` (`down`, `exit`). */
function _okIfStoppedHelp(word: ControlWord): string {
  return `  opsd ${word} -q --ok-if-stopped /srv/web   from crontab: 0 if not running\n\n` +
    `--ok-if-stopped: a service with no supervisor running and no process of it left\n` +
    `(never supervised, or exited already) is 0, not 3.`;
}

/** One command per control word (`opsd up`, `opsd down`, …). */
export function controlCommands() {
  return (Object.keys(CONTROL_WORDS) as ControlWord[]).map((word) => {
    const { help, letter } = CONTROL_WORDS[word];
    const svc = letter ? `  opsd svc -${letter} /srv/web       the same, daemontools-style\n` : "";
    const spec = {
      name: word,
      summary: help,
      description: `Ask each SERVICE's supervisor to ${help}, and print ` +
        (word === "exit"
          ? "each service's status once its supervisor has ended (with --no-wait, the status " +
            "it acknowledged with: 'supervisor exiting; stopping ...'). "
          : "the status it acknowledged with (after what it did, for a signal: " +
            "'sent HUP; up ...'). ") +
        "SERVICE is a service directory or script, as for 'opsd supervise'.",
      operands: [_SERVICES],
    };
    const examples =
      `\nExamples:\n  opsd ${word} /srv/web\n  opsd ${word} /srv/web /srv/worker ./job.sh\n${svc}`;
    if (word === "exit") {
      return defineCommand({
        ...spec,
        options: { ..._EXIT_OPTIONS, ..._OK_IF_STOPPED },
        after:
          `${examples}  opsd exit --timeout 1m /srv/web && opsd supervise --daemon /srv/web\n` +
          `${_okIfStoppedHelp(word)}\n\n${_EXIT_WAIT}\n\n${_EXIT_CODES}`,
        run: (options, services) => _send(word, [word], services, options),
      });
    }
    if (word === "down") {
      return defineCommand({
        ...spec,
        options: { ..._OPTIONS, ..._OK_IF_STOPPED },
        after: `${examples}${_okIfStoppedHelp(word)}\n\n${_EXIT_CODES}`,
        run: (options, services) => _send(word, [word], services, options),
      });
    }
    return defineCommand({
      ...spec,
      options: _OPTIONS,
      after: `${examples}\n${_EXIT_CODES}`,
      run: (options, services) => _send(word, [word], services, options),
    });
  });
}

/** `opsd svc -udotpchaikx SERVICE...`: daemontools' svc letters, applied in order. */
export function svcCommand() {
  const letters = Object.entries(CONTROL_WORDS)
    .filter(([, spec]) => spec.letter !== null)
    .map(([word, spec]) => `  -${spec.letter}  ${word.padEnd(10)}${spec.help}`)
    .join("\n");
  return defineCommand({
    name: "svc",
    summary: "control services with daemontools' svc letters (-u -d -o -p -c -h -a -i -t -k -x)",
    description:
      "The control words as svc's letters, which may be combined (-du, -tu) and are applied " +
      "in order to each SERVICE. After -x, a -d or -x wants what the exiting supervisor does " +
      "and is not sent (it may be gone by then); -u, -o are refused.\n\n" + letters,
    operands: [{
      name: "letters-and-services",
      help: "letters such as -d or -tu, and service directories or scripts",
      required: true,
      variadic: true,
    }],
    options: {
      ..._EXIT_OPTIONS,
      timeout: {
        ..._EXIT_OPTIONS.timeout,
        help: "give up after this long, the asking included (exit 6; each supervisor has at " +
          "most 5 s to answer); 0: no limit but that, and after -x the supervisor's end is " +
          "waited for as long as it takes",
      },
    },
    unknownOptionsAreOperands: true,
    after: `
Examples:
  opsd svc -d /srv/web        take it down (opsd down /srv/web)
  opsd svc -h /srv/web        send HUP (-h is svc's, not help: use --help)
  opsd svc -du /srv/web       down, then up again
  opsd svc -d -- -web         a service whose name starts with a dash

${_EXIT_WAIT.replace("exit waits", "-x waits")}

${_EXIT_CODES}`,
    run: (options, args) => {
      const words: ControlWord[] = [], services: string[] = [];
      let quiet = options.quiet, ended = false;
      for (const arg of args) {
        // After --, a service may start with a dash (opsd svc -d -- -web).
        if (arg === "--" && !ended) {
          ended = true;
          continue;
        }
        if (ended || !/^-[A-Za-z]+$/.test(arg)) {
          services.push(arg);
          continue;
        }
        for (const letter of arg.slice(1)) {
          // -q clustered with letters (-dq) is this command's own, as getopt reads it.
          if (letter === "q") {
            quiet = true;
            continue;
          }
          const word = wordForLetter(letter);
          if (!word) {
            throw new CommandLineError(
              `unknown letter -${letter}: use -u -d -o -p -c -h -a -i -t -k -x`,
            );
          }
          words.push(word);
        }
      }
      if (words.length === 0) {
        throw new CommandLineError(
          "no letter given: use one or more of -u -d -o -p -c -h -a -i -t -k -x",
        );
      }
      if (services.length === 0) throw new CommandLineError("no service given: name one or more");
      return _send("svc", words, services, { ...options, quiet });
    },
  });
}

/** The words that would run a service: refused by a supervisor that is exiting. */
const _RUNS: ControlWord[] = ["up", "once", "restart"];

/** What the words sent to one service did. */
interface _Sent {
  name: string;
  /** Each word's exit code, up to the first that failed. */
  codes: number[];
  /** What was done that the status may not show yet (`sent TERM`, `supervisor exiting`). */
  done: string[];
  /** The last acknowledged status, or null. */
  status: ServiceStatus | null;
  /** Its supervisor acknowledged exit, and no word after it was refused: it is waited for. */
  exits: boolean;
  /** Why the word that failed failed, printed in the order the services were named. */
  problem: string | null;
}

/**
 * Sends `words` in order to each service, up to the first that fails, the services
 * together (32 at a time: a supervisor that does not answer holds up one of those
 * places only); then waits for the supervisors that acknowledged exit (together: they
 * take their services down at the same time) unless `noWait`, and prints, in the
 * order named, each service's error or status with what was done.
 */
async function _send(
  command: string,
  words: ControlWord[],
  services: string[],
  options: {
    json?: boolean;
    quiet?: boolean;
    noWait?: boolean;
    timeout?: number;
    okIfStopped?: boolean;
  },
): Promise<number> {
  // --timeout bounds the whole command: asking too, not only the wait for the end.
  const timeout = options.timeout ?? 0;
  const deadline = timeout > 0 ? Date.now() + timeout : Infinity;
  const sent = await mapLimited(
    services,
    SERVICES_AT_ONCE,
    (name) => _sendWords(name, words, deadline),
  );
  const ends = await Promise.all(sent.map(async (one) => {
    if (one.exits && !options.noWait) {
      return await awaitExit(one.name, one.status!.supervisor, deadline, timeout);
    }
    if (!options.okIfStopped || one.codes.at(-1) !== ExitCode.notRunning) return null;
    // --ok-if-stopped: none to tell is as good as one that ended (or took its service down),
    // if nothing of it runs.
    const ended = await endedAlready(one.name);
    if (ended) [one.codes, one.problem] = [[], null]; // Its code and error say it now.
    return ended;
  }));
  const codes: number[] = [];
  for (const [index, { name, codes: sentCodes, done, status, problem }] of sent.entries()) {
    codes.push(...sentCodes);
    if (problem !== null) writeProblem(`opsd ${command}`, problem);
    const end = ends[index];
    if (end) {
      codes.push(end.code);
      if (end.error !== null) writeProblem(`opsd ${command}`, end.error);
      if (options.quiet) continue;
      const ended = done.map((did) => did === wordDone("exit") ? "supervisor exited" : did);
      // As 'opsd status' says it (with its log service), now that the supervisor is gone.
      for (const report of end.reports) {
        if (options.json) writeJson({ ...reportJson(report), done: ended });
        else writeOut(`${describeReport(report)}\n`);
      }
      continue;
    }
    if (options.quiet || status === null) continue;
    // The same fields as 'opsd status --json', and what was done ("sent TERM").
    if (options.json) writeJson({ ...reportJson(liveReport(name, status)), done });
    else writeOut(`${escapeText(name)}: ${[...done, describeStatus(status)].join("; ")}\n`);
  }
  return combinedExitCode(codes);
}

/**
 * Sends `words` in order to the service `name`, up to the first that fails (its error
 * kept to be printed); each waits for its answer no later than `deadline` (and no
 * longer than 5 s).
 */
async function _sendWords(name: string, words: ControlWord[], deadline: number): Promise<_Sent> {
  const sent: _Sent = { name, codes: [], done: [], status: null, exits: false, problem: null };
  for (const word of words) {
    // After an acknowledged exit, down and exit want what the supervisor is doing, and it
    // may be gone before they would reach it (svc -xd): they are done without being sent.
    if (sent.exits && (word === "down" || word === "exit")) continue;
    // Those that would run it are refused, as the supervisor refuses them, without asking
    // it: one whose service stops at once is gone before they reach it (svc -xu said 3).
    const result: ControlResult = sent.exits && _RUNS.includes(word)
      ? {
        name,
        code: ExitCode.failure,
        error: describeExiting("opsd exit", sent.status!.service),
        status: null,
      }
      : await controlService(
        name,
        word,
        Math.max(1, Math.min(ANSWER_TIMEOUT, deadline - Date.now())),
      );
    sent.codes.push(result.code);
    if (result.code !== ExitCode.ok) {
      // What the words before it did is still said (svc -xu: the exit, then why not up),
      // and there is nothing to wait for.
      sent.problem = result.error;
      sent.exits = false;
      break;
    }
    const did = wordDone(word);
    if (did) sent.done.push(did);
    sent.status = result.status;
    sent.exits ||= word === "exit";
  }
  return sent;
}

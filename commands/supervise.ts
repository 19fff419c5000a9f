/**
 * `opsd supervise SERVICE`: keep a service running in the foreground, restart it
 * with backoff, and record its status for `opsd status`.
 *
 * @module
 */

import { Command, Option } from "@commander-js/extra-typings";
import { configureSync, type LogRecord } from "@logtape/logtape";
import { resolveService } from "../lib/service/paths.ts";
import { type SettingKey, SETTINGS, settingsFromFlags } from "../lib/service/settings.ts";
import { claimReadyFd, reportFailure, reportReady } from "../lib/supervise/ready.ts";
import { supervise } from "../lib/supervise/supervisor.ts";
import { exitWith, intOption } from "./_cli.ts";

/** The `supervise` command. */
export function superviseCommand() {
  const command = new Command("supervise")
    .summary("keep a service running: restart it with backoff, show why it fails")
    .description(
      "Run SERVICE in the foreground and keep it running until TERM, INT (Ctrl-C) or\n" +
        "'opsd exit SERVICE'. SERVICE is a directory with an executable run file (the\n" +
        "daemontools/runit/s6 layout: optional finish, down and log/) or an executable script.\n" +
        "Settings come from SERVICE/opsd.conf (or SCRIPT.opsd.conf), then from these flags.",
    )
    .argument("<service>", "service directory, or executable script")
    .addOption(
      new Option(
        "--ready-fd <fd>",
        "write one line on FD once the service has started, then close it",
      )
        .argParser(intOption(1)),
    );
  for (const [key, spec] of Object.entries(SETTINGS)) {
    const fallback = spec.default === "" ? "" : ` (default ${spec.default})`;
    command.option(`--${key} <${spec.value.toLowerCase()}>`, `${spec.help}${fallback}`);
  }
  return command
    .addHelpText(
      "after",
      `
Examples:
  opsd supervise examples/hello                  try it; Ctrl-C stops it and the service
  opsd supervise /srv/web                        a service directory (state in /srv/web/supervise/)
  opsd supervise ./worker.sh --stop-timeout 30s  a script (state in .worker.sh.opsd/ beside it)
  opsd supervise /srv/web --log-file log/current --log-max-size 10M --log-keep 5
  opsd supervise /srv/web --ready-fd 3 3>ready   'ready' gets '0 supervising /srv/web (...)'

Restarts: a run shorter than --stable-after is a quick death; the next start waits
--restart-delay, doubled per further quick death (up to --restart-delay-max, +-20%
jitter). --crash-loop-after quick deaths in a row show as crash-loop in status.
Stopping sends --stop-signal and CONT to the service's whole process group, then
KILL after --stop-timeout. finish (if executable) runs as 'finish EXITCODE SIGNAL'
(EXITCODE -1 when killed by a signal; SIGNAL 0 when it exited); finish exiting 125
keeps the service down. If the supervisor is killed (kill -9) the service runs on;
'opsd status' says so, and the next 'opsd supervise' stops it before starting afresh.
--ready-fd FD: one line on FD once every service has started: '0 supervising ...', or
'CODE MESSAGE' (the exit code below) when it cannot start; then FD is let go of.

Exit codes: 0 stopped cleanly (TERM, INT or 'opsd exit'), 2 bad settings or unknown
service, 4 permission denied, 5 the service already has a supervisor (its pid is
named), 126 run is not executable, 127 run not found.`,
    )
    .action(exitWith(async (name, options) => {
      const readyFd = options.readyFd;
      if (readyFd !== undefined) claimReadyFd(readyFd);
      try {
        const paths = resolveService(name);
        _configureLog(paths.path);
        const flags: Record<string, string | undefined> = {};
        for (const key of Object.keys(SETTINGS) as SettingKey[]) {
          flags[key] = (options as Record<string, string | undefined>)[_camel(key)];
        }
        return await supervise({
          paths,
          flags: settingsFromFlags(flags),
          onReady: readyFd === undefined ? undefined : (report) => reportReady(readyFd, report),
        });
      } catch (error) {
        if (readyFd !== undefined) reportFailure(readyFd, error);
        throw error;
      }
    }));
}

function _camel(key: string): string {
  return key.replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase());
}

/** The supervisor's own messages: `opsd supervise[/srv/web]: started pid 1842` on stderr. */
function _configureLog(service: string): void {
  const encoder = new TextEncoder();
  configureSync({
    reset: true,
    sinks: {
      stderr: (record: LogRecord) => {
        const text = record.message.map((part) => String(part)).join("");
        const where = record.properties.service ?? service;
        try {
          Deno.stderr.writeSync(encoder.encode(`opsd supervise[${where}]: ${text}\n`));
        } catch {
          // stderr is gone (closed terminal): the status file still tells.
        }
      },
    },
    loggers: [
      { category: ["opsd"], sinks: ["stderr"], lowestLevel: "info" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
  });
}

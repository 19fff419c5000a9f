/**
 * `opsd status SERVICE...`: one line per service (and its log service), what
 * svstat and s6-svstat show and more, with the output tail of a failing service.
 *
 * @module
 */

import { exitCodeOf } from "../lib/errors.ts";
import { resolveExistingService } from "../lib/service/paths.ts";
import { combinedExitCode, SERVICES_AT_ONCE } from "../lib/supervise/client.ts";
import { mapLimited } from "../lib/limited.ts";
import {
  describeReport,
  reportJson,
  statusExitCode,
  statusReports,
} from "../lib/supervise/report.ts";
import { defineCommand } from "../lib/cli/spec.ts";
import { writeJson, writeOut, writeProblem } from "../lib/cli/output.ts";

/** The `status` command. */
export function statusCommand() {
  return defineCommand({
    name: "status",
    summary: "show whether services run, since when, and why they fail",
    description: "One line per SERVICE (and one for its log/ service), from the status file its " +
      "supervisor keeps; whether a supervisor runs is decided from its lock, so a " +
      "supervisor that died is reported as such, never as a stale 'up'. A failing service's " +
      "last lines of output (stderr, or stdout when it wrote none) follow its line.",
    operands: [{
      name: "services",
      help: "service directories or scripts",
      required: true,
      variadic: true,
    }],
    options: {
      json: { help: "one JSON object per service line, with the same fields" },
      quiet: {
        short: "q",
        help: "print no status lines, nor JSON; answer with the exit code alone (errors still " +
          "on stderr)",
      },
    },
    after: `
Examples:
  opsd status /srv/web
    /srv/web: up (pid 1842, pgid 1842) 73 seconds, normally up
    /srv/web/log: up (pid 1841, pgid 1841) 73 seconds, normally up
  opsd status ./worker.sh
    ./worker.sh: crash-loop: 12 starts in 60 s, last exited 1, restart in 3.2 s
      | Error: connect ECONNREFUSED 127.0.0.1:5432
  opsd status --json /srv/web | jq .state
  if opsd status -q /srv/web; then echo up; fi

Exit codes: 0 every service (and log service) is up, 1 some is not up (down, starting,
crash-loop, stopping, finishing, or not ready yet with a notification-fd) or its status file is damaged, another tool's, or out
of date with a supervisor that does not answer (in 2 s),
2 unknown service, 3 some has no supervisor running, 4 permission denied (the state
directory is its supervisor's user's).`,
    run: async (options, services) => {
      const codes: number[] = [];
      // Looked at together (32 at a time, within the fds a process may open): a supervisor
      // asked for its record (2 s at most) delays no other.
      const looks = await mapLimited(services, SERVICES_AT_ONCE, async (name) => {
        try {
          return await statusReports(resolveExistingService(name), name);
        } catch (error) {
          return error as Error;
        }
      });
      for (const reports of looks) {
        if (reports instanceof Error) {
          writeProblem("opsd status", reports.message);
          codes.push(exitCodeOf(reports));
          continue;
        }
        // -q wins over --json, as for the control commands.
        for (const report of options.quiet ? [] : reports) {
          if (options.json) writeJson(reportJson(report));
          else writeOut(`${describeReport(report)}\n`);
        }
        codes.push(statusExitCode(reports));
      }
      return combinedExitCode(codes);
    },
  });
}

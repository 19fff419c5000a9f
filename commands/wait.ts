/**
 * `opsd wait SERVICE... --up|--down [--timeout 10s]`: block until services reach
 * a state, for scripts.
 *
 * @module
 */

import { resolveExistingService } from "../lib/service/paths.ts";
import { waitForService } from "../lib/supervise/wait.ts";
import { parseDuration } from "../lib/duration.ts";
import { CommandLineError } from "../lib/cli/error.ts";
import { defineCommand } from "../lib/cli/spec.ts";

/** The `wait` command. */
export function waitCommand() {
  return defineCommand({
    name: "wait",
    summary: "wait until services are up, or down",
    description:
      "Wait until every SERVICE is up (running, not in a crash loop, and ready when it has a " +
      "notification-fd; its log/ service too) or down (none of " +
      "its processes running), checking every 50 ms.",
    operands: [{
      name: "services",
      help: "service directories or scripts",
      required: true,
      variadic: true,
    }],
    options: {
      up: { help: "wait until each is up" },
      down: { help: "wait until each is down" },
      timeout: {
        value: "duration",
        help: "give up after this long; 0 waits forever",
        parse: parseDuration,
        default: 10_000,
        defaultText: "10s",
      },
    },
    after: `
Examples:
  opsd up /srv/web && opsd wait /srv/web --up --timeout 30s
  opsd down /srv/web && opsd wait /srv/web --down

Exit codes: 0 reached, 1 a status file is damaged, or out of date with a supervisor that
does not answer, 2 usage error or unknown service, 3 no supervisor running, so it cannot
get there (for --up, also one that is exiting; for --down, only while processes of the
service run unsupervised), 4 permission denied (run as the supervisor's user or root),
6 timed out.`,
    run: async (options, services) => {
      if (options.up === options.down) {
        throw new CommandLineError("give exactly one of --up and --down");
      }
      const target = options.up ? "up" : "down";
      const deadline = options.timeout > 0 ? Date.now() + options.timeout : Infinity;
      for (const name of services) {
        await waitForService(resolveExistingService(name), name, target, options.timeout, deadline);
      }
      return 0;
    },
  });
}

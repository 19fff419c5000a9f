/**
 * `opsd tail SERVICE [-f]`: the last bytes a service wrote to stderr, or, with
 * `-f`, its log file as it grows.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { resolveExistingService } from "../lib/service/paths.ts";
import { followFile } from "../lib/supervise/follow.ts";
import { logFileOf, stderrTail } from "../lib/supervise/tail.ts";
import { exitWith, intOption, writeOut } from "./_cli.ts";

/** The `tail` command. */
export function tailCommand() {
  return new Command("tail")
    .summary("print a service's last stderr output, or follow its log file")
    .description(
      "Print the last bytes SERVICE wrote to stderr (--tail-bytes, 400 by default), from " +
        "its supervisor, or from its status file when the supervisor is gone. With -f, " +
        "print the end of its log file (log-file setting) and then what is appended, " +
        "across rotations, until interrupted.",
    )
    .argument("<service>", "service directory or script")
    .option("-f, --follow", "follow the log file")
    .option(
      "-n, --lines <n>",
      "the last N lines only: of the stderr tail (default: all of it), or with -f of the " +
        "log file, printed first (default: 10)",
      intOption(0),
    )
    .addHelpText(
      "after",
      `
Examples:
  opsd tail /srv/web              why did it fail?
  opsd tail -n 1 /srv/web         its last line on stderr
  opsd tail -f /srv/web           follow its log (needs log-file = … in /srv/web/opsd.conf)
  opsd tail -f -n 100 ./job.sh

Exit codes: 0 ok, 1 no log file to follow, 2 unknown service, 3 never supervised.`,
    )
    .action(exitWith(async (name, options) => {
      const paths = resolveExistingService(name);
      if (!options.follow) {
        const tail = await stderrTail(paths, options.lines);
        if (tail !== "") writeOut(tail.endsWith("\n") ? tail : `${tail}\n`);
        return 0;
      }
      const path = logFileOf(paths);
      const decoder = new TextDecoder();
      for await (const chunk of followFile(path, { lines: options.lines ?? 10 })) {
        writeOut(decoder.decode(chunk, { stream: true }));
      }
      return 0;
    }));
}

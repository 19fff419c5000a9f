/**
 * `opsd tail SERVICE [-f]`: the last bytes a service wrote to stderr (to stdout,
 * when it writes nothing to stderr), or, with `-f`, its log file as it grows.
 *
 * @module
 */

import { resolveExistingService } from "../lib/service/paths.ts";
import { followFile } from "../lib/supervise/follow.ts";
import { logFileOf, outputTail } from "../lib/supervise/tail.ts";
import { defineCommand } from "../lib/cli/spec.ts";
import { intValue } from "../lib/cli/values.ts";
import { stdoutReaderGone, writeOut, writeProblem } from "../lib/cli/output.ts";
import { suggestCommand } from "../lib/text/command.ts";

/** The `tail` command. */
export function tailCommand() {
  return defineCommand({
    name: "tail",
    summary: "print a service's last output, or follow its log file",
    description:
      "Print the last bytes SERVICE wrote to stderr (its tail-bytes setting, 400 by default), from " +
      "its supervisor, or from its status file when the supervisor does not answer (gone, " +
      "exiting, or silent for 2 s: stopped?). A service that wrote nothing to stderr since its " +
      "supervisor started (a run that did 'exec 2>&1') has the last bytes of its stdout " +
      "instead, unless a log/ service reads that; when there is none, a note on stderr says " +
      "so (exit 0). With -f, " +
      "print the end of its log file (log-file setting; under 'opsd supervise --daemon' " +
      "without one, supervise/current) and then what is appended, across rotations, " +
      "until interrupted or nobody reads its output any more (| head: exit 0, also while " +
      "nothing is appended); a log file not there yet (before the first start) is " +
      "printed from its start once it appears.",
    operands: [{ name: "service", help: "service directory or script", required: true }],
    options: {
      follow: { short: "f", help: "follow the log file" },
      lines: {
        short: "n",
        value: "n",
        help: "the last N lines only: of the output tail (default: all of it), or with -f of " +
          "the log file, printed first (default: 10)",
        parse: intValue(0),
      },
    },
    after: `
Examples:
  opsd tail /srv/web              why did it fail?
  opsd tail -n 1 /srv/web         its last line on stderr
  opsd tail -f /srv/web           follow its log (log-file in its opsd.conf,
                                  or supervise/current under --daemon)
  opsd tail -f -n 100 ./job.sh

Exit codes: 0 ok, 1 no log file to follow (-f: whether or not it was ever
supervised) or a damaged status file, 2 unknown service, 3 never supervised
(without -f: no tail yet), 4 permission denied (run as the supervisor's user or
root).`,
    run: async (options, [name]) => {
      const paths = resolveExistingService(name);
      if (!options.follow) {
        const tail = await outputTail(paths, options.lines);
        if (tail.text !== "") writeOut(tail.text.endsWith("\n") ? tail.text : `${tail.text}\n`);
        else if (options.lines !== 0) {
          // Said, not left to look like a failure to read it.
          writeProblem(
            "opsd tail",
            tail.stream === "stderr" && paths.log
              ? `no stderr output from ${name} since its supervisor started (a run with ` +
                `'exec 2>&1' writes everything to stdout, here read by its log/ service: ` +
                `${suggestCommand("opsd", "tail", "-f", paths.log.path)} follows its log file)`
              : `no output from ${name} since its supervisor started`,
          );
        }
        return 0;
      }
      const path = logFileOf(paths);
      const signal = stdoutReaderGone();
      for await (const chunk of followFile(path, { lines: options.lines ?? 10, signal })) {
        writeOut(chunk); // as it is in the file: a service's output need not be UTF-8
      }
      return 0;
    },
  });
}

/**
 * `opsd exec`: replace opsd with a program, optionally as another user (as
 * daemontools' setuidgid and s6-setuidgid do). opsd also uses it as its own exec
 * shim when it starts a child under other credentials.
 *
 * @module
 */

import { Command, Option } from "@commander-js/extra-typings";
import { UsageError } from "../lib/errors.ts";
import { resolveCredentials } from "../lib/process/credentials.ts";
import { execProgram } from "../lib/process/exec.ts";
import { intOption } from "./_cli.ts";

/** The `exec` command. */
export function execCommand() {
  return new Command("exec")
    .summary("run a program in place of opsd, optionally as another user")
    .description(
      "Replace opsd with PROGRAM (same pid, environment and fds 0-2), after switching " +
        "to --user and --group when given (needs root). PROGRAM is looked up in PATH.",
    )
    .argument("<program>", "program to run")
    .argument("[args...]", "its arguments")
    .option("-u, --user <user>", "run as this user (name or uid), with its groups")
    .option("-g, --group <group>", "run with this group (name or gid) instead of the user's")
    .addOption(
      new Option("--status-fd <fd>", "report exec failure on this fd").argParser(intOption(3))
        .hideHelp(),
    )
    .passThroughOptions()
    .addHelpText(
      "after",
      `
Examples:
  opsd exec --user nobody -- id        run id as nobody
  opsd exec -u www-data -g www-data -- ./server --port 8080

Exit codes: 127 program not found, 126 not executable, 2 unknown user or group,
4 not allowed to switch user; otherwise the program's own.`,
    )
    .action((program, args, options) => {
      if (options.group !== undefined && options.user === undefined) {
        throw new UsageError("--group needs --user: name the user to run as");
      }
      const credentials = options.user === undefined
        ? undefined
        : resolveCredentials(options.user, options.group);
      execProgram({ argv: [program, ...args], credentials, statusFd: options.statusFd });
    });
}

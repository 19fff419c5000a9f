/**
 * `opsd exec`: replace opsd with a program, optionally as another user (as
 * daemontools' setuidgid and s6-setuidgid do). opsd also uses it as its own exec
 * shim when it starts a child under other credentials.
 *
 * @module
 */

import { resolveCredentials } from "../lib/process/credentials.ts";
import { execProgram } from "../lib/process/exec.ts";
import { defineCommand } from "../lib/cli/spec.ts";
import { intValue, nonEmptyValue } from "../lib/cli/values.ts";

/** The `exec` command. */
export function execCommand() {
  return defineCommand({
    name: "exec",
    summary: "run a program in place of opsd, optionally as another user",
    description: "Replace opsd with PROGRAM (same pid, environment and fds 0-2), after switching " +
      "to --user and --group when given (needs root with CAP_SETUID and CAP_SETGID; a switch " +
      "the kernel refuses exits 4 naming the call, why and what to do). PROGRAM is looked up " +
      "in PATH after the " +
      "switch, as execvp would for that user: a directory it may not search is passed over. " +
      "The environment is passed on as it is, HOME included (as setuidgid does).",
    operands: [
      { name: "program", help: "program to run", required: true },
      { name: "args", help: "its arguments", variadic: true },
    ],
    options: {
      user: {
        short: "u",
        value: "user",
        help: "run as this user (name or uid), with its groups",
        parse: nonEmptyValue("a user name or uid"),
      },
      group: {
        short: "g",
        value: "group",
        help: "run with this group (name or gid) instead of the user's; alone: keep the " +
          "user, with this group as its only one",
        parse: nonEmptyValue("a group name or gid"),
      },
      statusFd: {
        value: "fd",
        help: "report exec failure on this fd",
        parse: intValue(3),
        hidden: true,
      },
      envFd: {
        value: "fd",
        help: "give the program the environment in the file on this fd",
        parse: intValue(3),
        hidden: true,
      },
      enter: {
        value: "dir",
        help: "after switching, enter this directory: refused if the user may not",
        parse: nonEmptyValue("a directory"),
        hidden: true,
      },
    },
    passThrough: true,
    after: `
Examples:
  opsd exec --user nobody -- id        run id as nobody
  opsd exec -u www-data -g www-data -- ./server --port 8080

Exit codes: 127 program not found, 126 not executable (no execute bit, or not a
file: a directory, a FIFO, a device), 2 unknown user or group, 4 not allowed to
switch user or group; otherwise the program's own.`,
    run: (options, argv) => {
      const credentials = options.user === undefined && options.group === undefined
        ? undefined
        : resolveCredentials(options.user, options.group);
      const { statusFd, envFd, enter } = options;
      return execProgram({ argv, credentials, statusFd, envFd, enter });
    },
  });
}

/**
 * Running opsd's command tree: parse argv, show help or the version, or run the
 * chosen command, then exit with opsd's codes: the command's own, 2 for a usage
 * error in the command line (one line ending in a pointer to --help, whether the
 * parser or the command found it; help on stderr when no command is named), or an
 * error's code after one line `opsd CMD: message`.
 *
 * @module
 */

import { ExitCode, exitCodeOf } from "../errors.ts";
import { ignoreDebuggerSignal } from "../process/debugger_signal.ts";
import { renderHelp } from "./help.ts";
import { writeErr, writeOut, writeProblem } from "./output.ts";
import { parseArgv } from "./parse.ts";
import { CommandLineError } from "./error.ts";
import type { CliCommand } from "./spec.ts";

/** Runs the command `argv` names in the tree under `root`, then exits. */
export async function runCli(root: CliCommand, argv: string[]): Promise<never> {
  let prefix = root.name;
  try {
    const parsed = parseArgv(root, argv);
    if (parsed.kind === "version") {
      writeOut(`${parsed.version}\n`);
      Deno.exit(ExitCode.ok);
    }
    if (parsed.kind === "help") {
      const help = renderHelp(parsed.command, parsed.path);
      if (!parsed.asked) {
        writeErr(help);
        Deno.exit(ExitCode.usage);
      }
      writeOut(help);
      Deno.exit(ExitCode.ok);
    }
    prefix = parsed.path.join(" ");
    // Every command: a stray SIGUSR1 must neither kill opsd nor open Deno's debugger.
    ignoreDebuggerSignal();
    Deno.exit(await parsed.command.run!(parsed.options as never, parsed.operands));
  } catch (error) {
    if (error instanceof CommandLineError) {
      const path = error.path?.join(" ") ?? prefix;
      writeProblem(path, `${error.message} (see '${path} --help')`);
      Deno.exit(ExitCode.usage);
    }
    const message = error instanceof Error ? error.message : String(error);
    writeProblem(prefix, message);
    if (Deno.env.get("OPSD_DEBUG") && error instanceof Error) writeErr(`${error.stack}\n`);
    Deno.exit(exitCodeOf(error));
  }
}

/**
 * The error for a command line that is wrong in itself (unknown option, missing
 * value, flags that do not go together): exit code 2, reported as one line that
 * ends with where to read how it is right (`(see 'opsd wait --help')`).
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** A wrong command line. `path` names the command (default: the one being run). */
export class CommandLineError extends UsageError {
  constructor(message: string, readonly path?: string[]) {
    super(message);
    this.name = "CommandLineError";
  }
}

/**
 * Option value readers shared by commands: each turns an option's text into its
 * value, or throws an Error saying what is expected (the parser names the
 * option and the text in front of it). Durations use `parseDuration`.
 *
 * @module
 */

/** A whole number within [min, max]. */
export function intValue(min: number, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text: string): number => {
    if (!/^\d+$/.test(text.trim()) || Number(text) < min || Number(text) > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `${min} to ${max}`;
      throw new Error(`expected a whole number, ${range}`);
    }
    return Number(text);
  };
}

/**
 * A comma-separated list of values each read by `parse` (`-p 1,2` as lsof reads
 * it, and as `pgrep -d,` prints pids): for a repeatable option, whose repeats
 * and lists add up. An empty item (`1,,2`, a trailing comma) is refused.
 */
export function listValue<T>(parse: (text: string) => T): (text: string) => T[] {
  return (text: string): T[] => text.split(",").map(parse);
}

/**
 * Text that must not be empty (a path, a name): an empty one, often an unset
 * shell variable, would match everything or nothing, or name the working
 * directory, never what was meant. `what` names the value expected.
 */
export function nonEmptyValue(what: string): (text: string) => string {
  return (text: string): string => {
    if (text === "") throw new Error(`expected ${what}, not an empty string (an unset variable?)`);
    return text;
  };
}

/**
 * What is wrong with option or setting value `text`, from the error its parser
 * threw: `bad value '0': expected 1 to 1000`, or the parser's own words when it
 * names the text itself (`bad duration "soon": …`).
 */
export function describeBadValue(text: string, error: unknown): string {
  const reason = (error as Error).message;
  return reason.startsWith("bad ") ? reason : `bad value '${text}': ${reason}`;
}

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
      throw new Error(`expected a whole number from ${min} to ${max}`);
    }
    return Number(text);
  };
}

/**
 * A path, which must not be empty: `--pidfile ''` (an unset shell variable) would
 * otherwise name the working directory.
 */
export function pathValue(text: string): string {
  if (text === "") throw new Error("expected a path, not an empty string (an unset variable?)");
  return text;
}

/**
 * Durations as operators write them in flags and service files: `100ms`, `2.5s`,
 * `1m`, `1h`, or a bare number of seconds.
 *
 * @module
 */

const _UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds in a duration such as `100ms`, `10s`, `1.5m` or `30` (seconds);
 * throws `RangeError` saying what it expected.
 *
 * @example
 * ```ts
 * parseDuration("1.5s"); // 1500
 * ```
 */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!match) {
    throw new RangeError(`bad duration "${text}": expected a number with ms, s, m or h (e.g. 10s)`);
  }
  return Math.round(Number(match[1]) * _UNITS[match[2] ?? "s"]);
}

/**
 * A short human form of a duration in milliseconds: `850 ms`, `3.2 s`, `73 s`…
 * Seconds keep one decimal below 10 s, as in `restart in 3.2 s`.
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  return seconds < 10 ? `${seconds.toFixed(1)} s` : `${Math.round(seconds)} s`;
}

/** Whole seconds as status lines say them, svstat-style: `1 second`, `73 seconds`. */
export function formatSeconds(seconds: number): string {
  return seconds === 1 ? "1 second" : `${seconds} seconds`;
}

/**
 * Signal names and numbers, in the spellings operators type: `TERM`, `SIGTERM` or `15`.
 *
 * @module
 */

import { SIGNALS } from "./constants.ts";

const _BY_NUMBER = new Map(Object.entries(SIGNALS).map(([name, number]) => [number, name]));

/**
 * The number of a signal given as `TERM`, `SIGTERM`, `term` or `15`; throws
 * `RangeError` naming the valid forms when the text is none of them.
 */
export function signalNumber(text: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const number = Number(trimmed);
    if (_BY_NUMBER.has(number)) return number;
  } else {
    const upper = trimmed.toUpperCase();
    const number = SIGNALS[upper.startsWith("SIG") ? upper : `SIG${upper}`];
    if (number !== undefined) return number;
  }
  throw new RangeError(`bad signal "${text}": expected a name such as TERM or a number 1-31`);
}

/** The name of a signal number, such as `SIGTERM` for 15 (`SIG15` if unknown). */
export function signalName(number: number): string {
  return _BY_NUMBER.get(number) ?? `SIG${number}`;
}

/**
 * The signals whose default action ends a process quietly, without pointing at a
 * fault, beyond INT, TERM, HUP and QUIT (USR1 is opsd's: it is ignored). A process
 * that must not end so (a supervisor, a start waiting for readiness) catches them.
 */
export const QUIET_ENDING_SIGNALS: readonly Deno.Signal[] = [
  ...["SIGUSR2", "SIGALRM", "SIGPWR", "SIGVTALRM", "SIGPROF"] as const,
  ...["SIGXCPU", "SIGXFSZ", "SIGIO", "SIGSTKFLT"] as const,
];

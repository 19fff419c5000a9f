/**
 * Restart pacing. A run shorter than `stable-after` is a quick death; after one,
 * the next start waits `restart-delay`, doubled for each further quick death in
 * a row, capped at `restart-delay-max`, with ±20% jitter so that services that
 * failed together do not retry in step. After a run that was stable the service
 * starts again at once.
 *
 * @module
 */

import type { ServiceSettings } from "../service/settings.ts";

/** How far the jitter moves a delay either way. */
export const JITTER = 0.2;

/**
 * The delay in ms before the next start after `quickDeaths` quick deaths in a row
 * (0: the last run was stable, start at once). `random` is for tests.
 *
 * @example
 * ```ts
 * restartDelay(3, settings); // about 400 ms with the default 100ms restart-delay
 * ```
 */
export function restartDelay(
  quickDeaths: number,
  settings: Pick<ServiceSettings, "restartDelay" | "restartDelayMax">,
  random: () => number = Math.random,
): number {
  if (quickDeaths <= 0) return 0;
  const base = Math.min(settings.restartDelayMax, settings.restartDelay * 2 ** (quickDeaths - 1));
  const jittered = base * (1 - JITTER + 2 * JITTER * random());
  return Math.round(Math.min(settings.restartDelayMax, jittered));
}

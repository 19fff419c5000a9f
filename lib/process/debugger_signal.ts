/**
 * Keeping SIGUSR1 from opening a debugger in opsd.
 *
 * Deno (since 2.9.2, as Node does) starts its V8 inspector on 127.0.0.1:9229
 * when a process that has run for about 500 ms receives SIGUSR1, and a listener
 * added with `Deno.addSignalListener` does not prevent it. For a supervisor
 * running as root that would let any local user who can reach the port run code
 * as root, after a stray `pkill -USR1 -f /srv/web` meant for a service. Before
 * Deno installs its handler, SIGUSR1 would kill opsd instead. So every opsd
 * process ignores SIGUSR1: from its start, and again once Deno has put its
 * handler in place. Programs opsd starts get the default action back (exec and
 * spawn reset it).
 *
 * @module
 */

import { SIGNALS } from "../sys/constants.ts";
import { ignoreSignal } from "../sys/libc.ts";

/** When Deno installs its SIGUSR1 handler, in ms after start (it waits about 500 ms). */
const _FIRST_LOOK = 450;
const _LOOK_EVERY = 50;
/** Give up looking after this long: a Deno that never installs the handler needs nothing more. */
const _LAST_LOOK = 10_000;

/**
 * Makes this process ignore SIGUSR1 now, and keeps looking (without keeping the
 * process alive) until Deno's own SIGUSR1 handler has appeared and been replaced.
 */
export function ignoreDebuggerSignal(): void {
  ignoreSignal(SIGNALS.SIGUSR1);
  const started = performance.now();
  const look = () => {
    if (ignoreSignal(SIGNALS.SIGUSR1) === "handled") return;
    if (performance.now() - started < _LAST_LOOK) Deno.unrefTimer(setTimeout(look, _LOOK_EVERY));
  };
  Deno.unrefTimer(setTimeout(look, _FIRST_LOOK));
}

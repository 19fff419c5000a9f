/**
 * Keeping SIGUSR1 from opening a debugger in opsd.
 *
 * Deno (since 2.9.2, as Node does) starts its V8 inspector on 127.0.0.1:9229
 * when a process that has run for about 500 ms receives SIGUSR1, and a listener
 * added with `Deno.addSignalListener` does not prevent it. For a supervisor
 * running as root that would let any local user who can reach the port run code
 * as root, after a stray `pkill -USR1 -f /srv/web` meant for a service. So every
 * opsd process ignores SIGUSR1 once its command starts, and looks every
 * millisecond, from 400 ms after the process started, for the handler Deno
 * installs, replacing it with "ignore" as soon as it appears.
 *
 * That leaves a window of a millisecond or so around the handler's appearance,
 * and a SIGUSR1 in the first tens of milliseconds (before the command starts)
 * ends opsd as it ends any program that does not handle it. Long-running
 * processes close both: {@linkcode execWithDebuggerSignalBlocked} starts the
 * process again with SIGUSR1 blocked, in every thread from its first
 * instruction, so the signal can never be delivered and is discarded once
 * ignored. Only root (or opsd's own user) can send it. Programs opsd starts get
 * the default action and an empty mask back (exec and spawn reset them).
 *
 * @module
 */

import { opsdArgv } from "../self.ts";
import { SIGNALS } from "../sys/constants.ts";
import { unrefDelay } from "../unref_delay.ts";
import { blockSignal, execve, ignoreSignal } from "../sys/libc.ts";
import { environmentEntries, startEnvironment } from "./environment.ts";

/** From when to look closely, in ms after the process started (Deno waits about 500 ms). */
const _FIRST_LOOK = 400;
/** Until when to look closely; after that, every {@linkcode _LOOK_LATER} ms. */
const _CLOSE_UNTIL = 2000;
const _LOOK_LATER = 50;
/** Give up looking after this long: a Deno that never installs the handler needs nothing more. */
const _LAST_LOOK = 10_000;

/**
 * Makes this process ignore SIGUSR1 now, and keeps looking (without keeping the
 * process alive) until Deno's own SIGUSR1 handler has appeared and been replaced.
 */
export function ignoreDebuggerSignal(): void {
  ignoreSignal(SIGNALS.SIGUSR1);
  const look = () => {
    if (ignoreSignal(SIGNALS.SIGUSR1) === "handled") return;
    const now = performance.now();
    if (now < _LAST_LOOK) unrefDelay(now < _CLOSE_UNTIL ? 1 : _LOOK_LATER).then(look);
  };
  unrefDelay(_FIRST_LOOK - performance.now()).then(look);
}

/**
 * Unless SIGUSR1 is blocked already, blocks it and execs this process again as
 * `opsd ARGS...` (same pid, fds, environment and working directory), so that
 * no thread of the new process can receive it: for commands that run long (a
 * supervisor). Returns only when it was blocked already (in the new process).
 */
export function execWithDebuggerSignalBlocked(args: readonly string[]): void {
  if (blockSignal(SIGNALS.SIGUSR1)) return;
  const argv = opsdArgv(args);
  execve(argv[0], argv, environmentEntries(startEnvironment()));
}

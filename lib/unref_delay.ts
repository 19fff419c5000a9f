/**
 * Timers that do not keep opsd alive: for the looks a command takes in the
 * background (is Deno's SIGUSR1 handler there yet, has stdout's reader gone)
 * while its real work decides when it exits.
 *
 * Not `Deno.unrefTimer(setTimeout(…))`: in Deno 2.9 the first use of the global
 * `setTimeout` loads Node's timers module and what it needs (async_hooks,
 * errors, uv), about 6 ms of every run here, which short commands such as
 * `opsd fds` and `opsd status` would pay for nothing. `Atomics.waitAsync` with
 * a timeout on a cell nobody notifies resolves after `ms` as a timer does,
 * without holding the event loop open.
 *
 * @module
 */

/** The cell every delay waits on; nothing ever changes it or notifies it. */
const _CELL = new Int32Array(new SharedArrayBuffer(4));

/**
 * Resolves after about `ms` milliseconds, unless the process has exited by
 * then: a pending delay does not keep opsd running.
 */
export function unrefDelay(ms: number): Promise<void> {
  const wait = Atomics.waitAsync(_CELL, 0, 0, Math.max(0, ms));
  return wait.async ? wait.value.then(() => {}) : Promise.resolve();
}

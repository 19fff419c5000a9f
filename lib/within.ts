/**
 * Waiting for something, but not for ever: what a process that is ending gives
 * the things it closes (pipes still being read, connections, a slow reader of
 * its output) before it goes on without them.
 *
 * @module
 */

/**
 * Resolves once `promise` has, or after `ms` milliseconds, whichever is first;
 * rejects when `promise` rejects first.
 *
 * @example
 * ```ts
 * await within(writer.flush(), 3000); // a reader that does not read loses the rest
 * ```
 */
export async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([promise, new Promise((resolve) => timer = setTimeout(resolve, ms))]);
  } finally {
    clearTimeout(timer);
  }
}

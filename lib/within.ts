/**
 * Waiting: a pause between two looks of a polling loop, and waiting for something
 * but not for ever, as a process that is ending gives the things it closes (pipes
 * still being read, connections, a slow reader of its output) before it goes on
 * without them.
 *
 * @module
 */

/** Resolves after `ms` milliseconds: the pause between two looks of a polling loop. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Resolves once `promise` has (to true), or after `ms` milliseconds (to false),
 * whichever is first; rejects when `promise` rejects first.
 *
 * @example
 * ```ts
 * await within(writer.flush(), 3000); // a reader that does not read loses the rest
 * ```
 */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise.then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

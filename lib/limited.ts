/**
 * Running one asynchronous task per item with a bound on how many are pending at
 * once: for commands that act on many services together (`opsd down /srv/*`), each
 * holding an fd or two (a control socket, a lock file) while it waits, so that a
 * thousand services meet the usual limit of 1024 open fds (`ulimit -n`) as a
 * queue, not as EMFILE.
 *
 * @module
 */

/**
 * Maps `items` through `task`, at most `limit` tasks pending at a time (the next
 * starts as one ends, so one slow item holds up one slot only); the results come
 * in the order of `items`. A task that throws rejects the whole, as with
 * `Promise.all`.
 *
 * @example
 * ```ts
 * const sizes = await mapLimited(paths, 32, async (path) => (await Deno.stat(path)).size);
 * ```
 */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

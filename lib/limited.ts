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
 * starts as one ends, so one slow item holds up one slot only; a `limit` below 1
 * is 1); the results come in the order of `items`. A task that throws rejects the
 * whole, as with `Promise.all`, and no task starts after it: the caller, told of
 * the failure, is not still acting on the items behind its back.
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
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index]);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const workers = Math.min(Math.max(1, limit), items.length);
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}

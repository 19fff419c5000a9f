/**
 * The environment opsd hands on to the programs it starts: the one it was started
 * with. `Deno.env` is not quite that: when `node` is not in PATH, Deno puts a
 * directory of its own first in PATH (`$DENO_DIR/node_compat_bin`), which a
 * program run as another user may not even search.
 *
 * @module
 */

/**
 * The variables this process was started with, as the kernel keeps them in
 * `/proc/self/environ` (the first of a name given twice wins, as `getenv` finds).
 *
 * @example
 * ```ts
 * const env = { ...startEnvironment(), OPSD_INSTANCE: id };
 * ```
 */
export function startEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of Deno.readTextFileSync("/proc/self/environ").split("\0")) {
    const equals = entry.indexOf("=");
    if (equals > 0) env[entry.slice(0, equals)] ??= entry.slice(equals + 1);
  }
  return env;
}

/**
 * The environment opsd hands on to the programs it starts: the one it was started
 * with. `Deno.env` is not quite that: when `node` is not in PATH, Deno puts a
 * directory of its own first in PATH (`$DENO_DIR/node_compat_bin`), which a
 * program run as another user may not even search.
 *
 * A program started under other credentials goes through the exec shim (`opsd
 * exec`), itself a Deno process; its own environment stays opsd's, and the
 * program's comes in a file on an fd ({@linkcode environmentFile}): a HOME set to
 * the program's user's must not make the shim's Deno, still root, put its cache
 * there.
 *
 * @module
 */

import { close, memfdCreate, pread, write } from "../sys/libc.ts";

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
  return _parse(Deno.readTextFileSync("/proc/self/environ"));
}

/** `env` as the `KEY=VALUE` strings execve and posix_spawn take. */
export function environmentEntries(env: Record<string, string>): string[] {
  return Object.entries(env).map(([key, value]) => `${key}=${value}`);
}

/**
 * A new close-on-exec fd of an anonymous file in memory holding `env` as
 * `KEY=VALUE` entries ended by NUL bytes, as `/proc/PID/environ` shows them. Give
 * it to a child (as one of its fds), which reads it with
 * {@linkcode readEnvironmentFile}; close it after the spawn.
 */
export function environmentFile(env: Record<string, string>): number {
  const bytes = new TextEncoder().encode(
    environmentEntries(env).map((entry) => `${entry}\0`).join(""),
  );
  const fd = memfdCreate("opsd-environment");
  try {
    for (let offset = 0; offset < bytes.length;) offset += write(fd, bytes.subarray(offset));
    return fd;
  } catch (error) {
    close(fd);
    throw error;
  }
}

/** The environment in the file open on `fd`, written by {@linkcode environmentFile}; closes `fd`. */
export function readEnvironmentFile(fd: number): Record<string, string> {
  const chunks: Uint8Array[] = [];
  try {
    const buffer = new Uint8Array(64 * 1024);
    for (let offset = 0, count; (count = pread(fd, buffer, offset)) > 0; offset += count) {
      chunks.push(buffer.slice(0, count));
    }
  } finally {
    close(fd);
  }
  const decoder = new TextDecoder();
  return _parse(
    chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join("") + decoder.decode(),
  );
}

/** `KEY=VALUE` entries ended by NUL bytes; the first of a name given twice wins. */
function _parse(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of text.split("\0")) {
    const equals = entry.indexOf("=");
    if (equals > 0) env[entry.slice(0, equals)] ??= entry.slice(equals + 1);
  }
  return env;
}

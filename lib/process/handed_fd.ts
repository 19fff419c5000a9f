/**
 * Fds handed to opsd by the process that started it (a readiness fd, a status
 * fd): open, and not close-on-exec. Every fd the Deno runtime opens for itself
 * (its event loop, its caches) is close-on-exec, and one that crossed exec into
 * opsd cannot be; so a number naming one of the runtime's own fds is refused,
 * never written to or closed (that crashed the runtime or damaged its cache).
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { getCloexec, isErrno } from "../sys/libc.ts";

/** Where fd `fd` came from: `handed` over by opsd's parent, `closed`, or opsd's `own`. */
export function fdOrigin(fd: number): "handed" | "closed" | "own" {
  try {
    return getCloexec(fd) ? "own" : "handed";
  } catch (error) {
    if (isErrno(error, "EBADF")) return "closed";
    throw error;
  }
}

/**
 * Throws a usage error (exit 2) unless `fd` was handed over: `option` names the
 * flag that gave it, `purpose` what it is for (`the readiness line`).
 *
 * @example
 * ```ts
 * requireHandedFd(3, "--ready-fd", "the readiness line"); // needs `3>FILE`
 * ```
 */
export function requireHandedFd(fd: number, option: string, purpose: string): void {
  const origin = fdOrigin(fd);
  if (origin === "handed") return;
  const why = origin === "closed" ? "is not open" : "is one opsd opened for itself";
  throw new UsageError(
    `${option} ${fd}: fd ${fd} ${why}: open it for ${purpose} (${fd}>FILE or a pipe)`,
  );
}

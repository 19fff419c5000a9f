/**
 * Which namespace a process is in, read from its `/proc/PID/ns/*` link
 * (`net:[4026531840]`): two processes share a namespace when the links match.
 *
 * @module
 */

import { rawCalls } from "../sys/libc.ts";

/** The namespace kinds opsd asks about. */
export type NamespaceKind = "net" | "mnt" | "pid";

const _encoder = new TextEncoder(), _decoder = new TextDecoder();
const _O_DIRECTORY_CLOEXEC = 0o200000 | 0o2000000;

/** The `kind` namespace of `pid` (or `self`), such as `net:[4026531840]`; null when unreadable. */
export function namespaceOf(pid: number | "self", kind: NamespaceKind): string | null {
  return _readLink(-100, `/proc/${pid}/ns/${kind}`, new Uint8Array(64));
}

/**
 * The number in a namespace link (`net:[4026531840]` gives 4026531840), as the
 * kernel's own records of a namespace name it (its inode number).
 */
export function namespaceNumber(link: string): number {
  const number = Number(/\[(\d+)\]$/.exec(link)?.[1]);
  if (!Number.isInteger(number)) throw new Error(`unexpected namespace link ${link}`);
  return number;
}

/**
 * The `kind` namespaces the processes in `pids` are in, each with the pids in
 * it (in `pids` order). Processes gone or unreadable are left out.
 */
export function groupByNamespace(pids: number[], kind: NamespaceKind): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  const calls = rawCalls();
  // Links relative to an open /proc cost a third of full-path lookups.
  const proc = calls.openat(-100, _encoder.encode("/proc\0"), _O_DIRECTORY_CLOEXEC, 0);
  if (proc < 0) return groups;
  const buffer = new Uint8Array(64);
  try {
    for (const pid of pids) {
      const namespace = _readLink(proc, `${pid}/ns/${kind}`, buffer);
      if (namespace === null) continue;
      const group = groups.get(namespace);
      if (group) group.push(pid);
      else groups.set(namespace, [pid]);
    }
  } finally {
    calls.close(proc);
  }
  return groups;
}

function _readLink(dirFd: number, path: string, buffer: Uint8Array<ArrayBuffer>): string | null {
  const length = Number(
    rawCalls().readlinkat(dirFd, _encoder.encode(`${path}\0`), buffer, BigInt(buffer.length)),
  );
  return length > 0 ? _decoder.decode(buffer.subarray(0, length)) : null;
}

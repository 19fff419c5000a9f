/**
 * Which namespace a process is in, read from its `/proc/PID/ns/*` link
 * (`net:[4026531840]`): two processes share a namespace when the links match.
 *
 * @module
 */

import { inspectCalls } from "../sys/libc.ts";

/** The namespace kinds opsd asks about. */
export type NamespaceKind = "net" | "mnt";

const _encoder = new TextEncoder(), _decoder = new TextDecoder();

/** The `kind` namespace of `pid` (or `self`), such as `net:[4026531840]`; null when unreadable. */
export function namespaceOf(pid: number | "self", kind: NamespaceKind): string | null {
  const link = new Uint8Array(64);
  const path = _encoder.encode(`/proc/${pid}/ns/${kind}\0`);
  const length = Number(inspectCalls().readlinkat(-100, path, link, BigInt(link.length)));
  return length > 0 ? _decoder.decode(link.subarray(0, length)) : null;
}

/**
 * The `kind` namespaces the processes in `pids` are in, each with the pids in
 * it (in `pids` order). Processes gone or unreadable are left out.
 */
export function groupByNamespace(pids: number[], kind: NamespaceKind): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (const pid of pids) {
    const namespace = namespaceOf(pid, kind);
    if (namespace === null) continue;
    const group = groups.get(namespace);
    if (group) group.push(pid);
    else groups.set(namespace, [pid]);
  }
  return groups;
}

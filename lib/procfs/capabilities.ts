/**
 * This process's capabilities, from `CapEff:` in `/proc/self/status`: what it
 * may do beyond its user's rights (root without CAP_SYS_PTRACE, as in a
 * container, may not read other users' fds; without CAP_SETUID and CAP_SETGID it
 * may not switch users); and whether its user namespace lets it set groups at all.
 *
 * @module
 */

/** Capability numbers opsd asks about (linux/capability.h). */
export const CAP = {
  SETGID: 6,
  SETUID: 7,
  SYS_PTRACE: 19,
  SYS_ADMIN: 21,
  PERFMON: 38,
  BPF: 39,
} as const;

/** This process's effective capability set (`CapEff:`), one bit per {@linkcode CAP} number. */
export function effectiveCapabilities(): bigint {
  const status = Deno.readTextFileSync("/proc/self/status");
  return BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? "0"}`);
}

/**
 * Whether capability `cap` (a {@linkcode CAP} number) is in `effective`: this
 * process's effective set, read afresh unless given (to ask about several at one read).
 */
export function hasEffectiveCapability(cap: number, effective = effectiveCapabilities()): boolean {
  return ((effective >> BigInt(cap)) & 1n) === 1n;
}

/**
 * Whether this process's user namespace forbids setgroups(2) whatever its
 * capabilities: `/proc/self/setgroups` says `deny`, as in a namespace an
 * unprivileged user made (`unshare -r`, a rootless container). False when the
 * file cannot be read (a kernel before 3.19 has none).
 */
export function setgroupsDenied(): boolean {
  try {
    return Deno.readTextFileSync("/proc/self/setgroups").trim() === "deny";
  } catch {
    return false;
  }
}

/**
 * This process's capabilities, from `CapEff:` in `/proc/self/status`: what it
 * may do beyond its user's rights (root without CAP_SYS_PTRACE, as in a
 * container, may not read other users' fds).
 *
 * @module
 */

/** Capability numbers opsd asks about (linux/capability.h). */
export const CAP = { SYS_PTRACE: 19 } as const;

/** Whether this process holds capability `cap` (a {@linkcode CAP} number) in its effective set. */
export function hasEffectiveCapability(cap: number): boolean {
  const status = Deno.readTextFileSync("/proc/self/status");
  const effective = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? "0"}`);
  return ((effective >> BigInt(cap)) & 1n) === 1n;
}

/**
 * How long the system has been up (`/proc/uptime`), and so when it booted: what
 * tells a process's age, and a record written before this boot from a current one.
 *
 * @module
 */

/** The system uptime in milliseconds. */
export function readUptimeMs(): number {
  return Math.round(Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]) * 1000);
}

/** When the system booted, in ms since the epoch (to about 10 ms). */
export function bootTimeMs(): number {
  return Date.now() - readUptimeMs();
}

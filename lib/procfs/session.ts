/**
 * The processes of one session, found by reading every `/proc/PID/stat`: what a
 * daemon started (and did not move to a session of its own) stays in the daemon's.
 *
 * @module
 */

import { readProcStat } from "./stat.ts";

/**
 * The pids of every live process whose session id is `sid`, the leader included.
 * A session id is not handed out again while any of its members lives, so the
 * answer names only processes of that one session. Processes that vanish mid-scan
 * are skipped.
 */
export function sessionMembers(sid: number): number[] {
  const members: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = readProcStat(Number(entry.name));
    if (stat && stat.sid === sid && stat.state !== "Z") members.push(stat.pid);
  }
  return members;
}

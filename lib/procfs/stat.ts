/**
 * `/proc/PID/stat`: a process's name, state, family and times in one small read.
 *
 * @module
 */

import { isProcessGone } from "./gone.ts";

/** The fields of `/proc/PID/stat` that opsd uses. */
export interface ProcStat {
  pid: number;
  /** The command name (at most 15 bytes, as the kernel keeps it). */
  comm: string;
  /** One letter: R running, S sleeping, D disk wait, Z zombie, T stopped… */
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  /** Controlling terminal device number; 0 means none. */
  ttyNr: number;
  /** User and system CPU time, in clock ticks. */
  utime: number;
  stime: number;
  numThreads: number;
  /** Start time in clock ticks after boot: with the pid, identifies a process across pid reuse. */
  startTime: number;
  /** Resident set size in pages. */
  rssPages: number;
}

/** Parses the text of a `/proc/PID/stat` file. */
export function parseProcStat(text: string): ProcStat {
  // comm may hold spaces and parentheses: it ends at the last ")".
  const open = text.indexOf("("), close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).split(" ");
  const field = (n: number) => Number(fields[n - 3]);
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: fields[0],
    ppid: field(4),
    pgid: field(5),
    sid: field(6),
    ttyNr: field(7),
    utime: field(14),
    stime: field(15),
    numThreads: field(20),
    startTime: field(22),
    rssPages: field(24),
  };
}

/** The stat of `pid` (or `self`), or null when the process is gone. */
export function readProcStat(pid: number | "self"): ProcStat | null {
  try {
    return parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch (error) {
    if (isProcessGone(error)) return null;
    throw error;
  }
}

/**
 * Whether a process runs: not a zombie, or a "zombie" whose main thread exited while
 * other threads run on (/proc shows it Z; it still holds its files, ports and memory).
 */
export function isLive(stat: ProcStat): boolean {
  return stat.state !== "Z" || stat.numThreads > 1;
}

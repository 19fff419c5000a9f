/**
 * `opsd fds --leaks`: socket fds a process probably should not hold.
 *
 * - `duplicate`: the same socket on two fds of one process, a dup that was never
 *   closed (the hot-restart bug that left a second listening fd in the child),
 *   when it is a listening socket or a copy lacks close-on-exec. Runtimes keep
 *   close-on-exec duplicates of their own connected sockets (every Deno process
 *   has one), and inetd-style services hold their socket on fds 0-2: neither is
 *   reported.
 * - `inherited-listener`: a listening socket also held by the parent, in a child
 *   running another program: it crossed an exec because it lacked close-on-exec.
 *   Pre-fork workers (same program as the parent) share listeners on purpose, and
 *   fds handed over with `LISTEN_FDS` (systemd socket activation) are intended.
 * - `no-cloexec`: a socket (fd 3 or above) without close-on-exec in a process
 *   running for at least the given age: every program it starts inherits it.
 *
 * @module
 */

import { formatDuration } from "../duration.ts";
import type { ProcessReads } from "./process_reads.ts";
import type { Leak } from "./row.ts";

/** What leak detection needs to know about a process. */
export interface LeakProcess {
  pid: number;
  ppid: number;
  command: string;
  /** The program it runs (`/proc/PID/exe`), null when unreadable. */
  exe: string | null;
  /** How long it has been running, in milliseconds. */
  ageMs: number;
  /** Fds handed over on purpose (`LISTEN_FDS`): [first, count]. */
  handedOver: [number, number] | null;
}

/** The inputs of {@linkcode findLeaks}. */
export interface LeakInput {
  processes: Map<number, LeakProcess>;
  /** Every socket fd of every process, as flat triples `pid, fd, inode`. */
  sockets: number[];
  /** Whether the socket with this inode is listening, as `--listen` counts it. */
  isListener: (inode: number) => boolean;
  /** Whether fd `fd` of `pid` is close-on-exec; null when it is gone. */
  cloexec: (pid: number, fd: number) => boolean | null;
  /** Processes younger than this are not reported for `no-cloexec`. */
  minAgeMs: number;
}

/** The leaks found, by `pid:fd`. */
export function findLeaks(input: LeakInput): Map<string, Leak[]> {
  const leaks = new Map<string, Leak[]>();
  const add = (pid: number, fd: number, leak: Leak) => {
    const key = `${pid}:${fd}`;
    leaks.set(key, [...(leaks.get(key) ?? []), leak]);
  };
  const byProcess = new Map<number, Map<number, number[]>>(); // pid -> inode -> fds
  for (let i = 0; i < input.sockets.length; i += 3) {
    const [pid, fd, inode] = input.sockets.slice(i, i + 3);
    const inodes = byProcess.get(pid) ?? new Map<number, number[]>();
    byProcess.set(pid, inodes);
    inodes.set(inode, [...(inodes.get(inode) ?? []), fd]);
  }
  for (const [pid, inodes] of byProcess) {
    const process = input.processes.get(pid);
    if (!process) continue;
    const parent = input.processes.get(process.ppid);
    const parentInodes = byProcess.get(process.ppid);
    for (const [inode, fds] of inodes) {
      const sorted = [...fds].sort((a, b) => a - b);
      const duplicates = sorted.slice(1).filter((fd) => fd > 2);
      if (duplicates.length > 0) {
        const listener = input.isListener(inode);
        if (listener || sorted.some((fd) => input.cloexec(pid, fd) === false)) {
          const reason = listener
            ? `same listening socket as fd ${sorted[0]}: closing one fd leaves the port open`
            : `same socket as fd ${sorted[0]}, and a copy survives exec`;
          for (const fd of duplicates) add(pid, fd, { kind: "duplicate", reason });
        }
      }
      for (const fd of sorted) {
        if (_handedOver(process, fd)) continue;
        if (
          parent && parentInodes?.has(inode) && input.isListener(inode) &&
          process.exe !== null && parent.exe !== null && process.exe !== parent.exe
        ) {
          add(pid, fd, {
            kind: "inherited-listener",
            reason: `listening socket also held by parent ${parent.pid} (${parent.command}), ` +
              `which runs another program: inherited across exec`,
          });
        }
        if (fd >= 3 && process.ageMs >= input.minAgeMs && input.cloexec(pid, fd) === false) {
          add(pid, fd, {
            kind: "no-cloexec",
            reason: `socket without close-on-exec in a process running ${
              formatDuration(process.ageMs)
            }: every program it starts inherits it`,
          });
        }
      }
    }
  }
  return leaks;
}

function _handedOver(process: LeakProcess, fd: number): boolean {
  const range = process.handedOver;
  return range !== null && fd >= range[0] && fd < range[0] + range[1];
}

/**
 * Reads what {@linkcode findLeaks} needs about `pid` from /proc, its stat and
 * program through `reads` (the query's); null when it is gone. `uptimeMs` is
 * the system uptime (`/proc/uptime`).
 */
export function readLeakProcess(
  pid: number,
  uptimeMs: number,
  reads: ProcessReads,
): LeakProcess | null {
  const stat = reads.stat(pid);
  if (!stat) return null;
  const exe = reads.programPath(pid);
  return {
    pid,
    ppid: stat.ppid,
    command: stat.comm,
    exe,
    ageMs: Math.max(0, uptimeMs - stat.startTime * 10), // start time is in 1/100 s (USER_HZ)
    handedOver: _listenFds(pid),
  };
}

/** The fds passed with systemd's socket activation protocol, from the environment. */
function _listenFds(pid: number): [number, number] | null {
  let environ: string;
  try {
    environ = Deno.readTextFileSync(`/proc/${pid}/environ`);
  } catch {
    return null;
  }
  const vars = new Map(
    environ.split("\0").map((entry) => {
      const equals = entry.indexOf("=");
      return [entry.slice(0, equals), entry.slice(equals + 1)] as const;
    }),
  );
  const count = Number(vars.get("LISTEN_FDS"));
  const forPid = vars.get("LISTEN_PID");
  if (!Number.isInteger(count) || count <= 0) return null;
  if (forPid !== undefined && Number(forPid) !== pid) return null;
  return [3, count];
}

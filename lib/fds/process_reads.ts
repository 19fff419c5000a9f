/**
 * What one `opsd fds` query reads of each process, read once per pid: a
 * process's `/proc/PID/stat` is wanted by the process selectors (a zombie
 * `--pid`, a `-c` name) and by its rows (command, parent), its owner by `-u`
 * and by its rows (USER), its program link
 * (`/proc/PID/exe`) by a long `-c` name, its `txt` row, the maps pass and
 * `--leaks` alike. Every part of the query then also sees the same process.
 *
 * @module
 */

import { type ProcStat, readProcStat } from "../procfs/stat.ts";
import { readLinkName } from "../procfs/links.ts";
import { isProcessGone } from "../procfs/gone.ts";

/** A per-query cache of `/proc/PID/stat`, `/proc/PID`'s owner and `/proc/PID/exe`. */
export class ProcessReads {
  #stats = new Map<number, ProcStat | null>();
  #owners = new Map<number, number | null>();
  #programs = new Map<number, string | Error>();

  /** The stat of `pid` (see `readProcStat`), or null when it is gone. */
  stat(pid: number): ProcStat | null {
    if (!this.#stats.has(pid)) this.#stats.set(pid, readProcStat(pid));
    return this.#stats.get(pid)!;
  }

  /**
   * The uid that owns `pid`, as lsof takes it (USER, `-u`): the owner of
   * `/proc/PID`, the effective uid of a dumpable process; null when it is gone.
   */
  owner(pid: number): number | null {
    if (!this.#owners.has(pid)) {
      let uid: number | null = null;
      try {
        uid = Deno.statSync(`/proc/${pid}`).uid ?? 0;
      } catch (error) {
        if (!isProcessGone(error)) throw error;
      }
      this.#owners.set(pid, uid);
    }
    return this.#owners.get(pid)!;
  }

  /**
   * The target of `/proc/PID/exe` ({@linkcode readLinkName}); throws what it
   * threw (`ENOENT`: gone, or a kernel thread, which runs no program; `EACCES`:
   * another user's process).
   */
  programLink(pid: number): string {
    let program = this.#programs.get(pid);
    if (program === undefined) {
      try {
        program = readLinkName(`/proc/${pid}/exe`);
      } catch (error) {
        program = error instanceof Error ? error : new Error(String(error));
      }
      this.#programs.set(pid, program);
    }
    if (program instanceof Error) throw program;
    return program;
  }

  /** The program `pid` runs, or null: gone, a kernel thread, or not ours to read. */
  programPath(pid: number): string | null {
    try {
      return this.programLink(pid);
    } catch {
      return null;
    }
  }
}

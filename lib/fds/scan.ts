/**
 * `opsd fds` engine: picks the processes and sockets a query names, walks the
 * fds once (see `walk.ts`), and describes what matched as rows.
 *
 * Selectors narrow the way an operator reads them, in three groups that
 * combine with AND (lsof ORs them unless given `-a`):
 * - `--pid`, `-c` and `-u` choose processes (repeats of one flag widen: either
 *   pid; different flags: all must hold);
 * - `--port`, `--path`, `--dir` and `--unix` name files, and a row matches
 *   when it is any of the files named (`--dir`: any file named as in the
 *   directory tree, and any unix socket bound there, by name alone);
 * - `--tcp`, `--udp` and `--listen` keep only sockets of that kind (`--tcp`
 *   with `--udp`: either), narrowing what the others selected; without a file
 *   named they select every such socket (`--listen`: unix listeners too). A
 *   file is no socket and a unix socket neither TCP nor UDP: `--path` with any
 *   of them, or `--unix` with `--tcp`/`--udp`, matches nothing, except that a
 *   `--path` naming a unix socket file names the sockets bound there, as
 *   `--unix` does, and a `--dir` the sockets bound below it (see `plan.ts`).
 *
 * A port or unix-socket query first looks the sockets up in the socket tables;
 * when nothing matches it answers without walking a single fd. A socket (TCP,
 * UDP or unix) that matches but that no process opsd could inspect holds still
 * gets a row, with the holder unknown (`ss` shows such sockets too): without
 * root, other users' processes cannot be inspected, and a port or a socket path
 * is taken all the same.
 *
 * @module
 */

import { listPids, threadGroupOf } from "../procfs/pids.ts";
import { type MappedFile, readMappedFiles } from "../procfs/maps.ts";
import { DELETED_MARK, splitDeleted } from "../procfs/deleted.ts";
import { groupByNamespace } from "../procfs/namespaces.ts";
import { O_CLOEXEC, readFdInfo } from "../procfs/fdinfo.ts";
import { userName } from "../procfs/users.ts";
import { walkProcesses, type WalkWanted } from "./walk.ts";
import {
  describeFd,
  describeSpecial,
  mappedFileRow,
  noFdRow,
  type SpecialFd,
  specialTarget,
  unheldSocketRow,
  unreadableFdRow,
} from "./describe.ts";
import { MountIndex } from "./mounts.ts";
import { compareRows, type FdRow, type ProcessInfo } from "./row.ts";
import { findLeaks, type LeakProcess, readLeakProcess } from "./leaks.ts";
import { readUptimeMs } from "../procfs/uptime.ts";
import { basename } from "../path.ts";
import { ProcessReads } from "./process_reads.ts";
import { type SocketSelection, SocketTables } from "./tables.ts";
import { isAddressSocket } from "./sockets.ts";
import { CAP, hasEffectiveCapability } from "../procfs/capabilities.ts";
import { type FileId, kernelPath, mayBeMapped, namedFile } from "./paths.ts";
import type { FdsPlan, FdsQuery, NamedDir } from "./plan.ts";
import { isNetworkFs } from "./mounts.ts";
import { dirPrefix, isInDir, resolvePath } from "../path.ts";
import { FilesystemMatch } from "./filesystems.ts";
import { decodeName } from "../text/escape.ts";

/** What a scan found. */
export interface FdsScan {
  rows: FdRow[];
  /**
   * Whether something matched: a row, except, for an address query (`ports`,
   * `listen`, `unixPaths`) without `allNetns`, a socket of another network
   * namespace than opsd's. It does not take the address in opsd's namespace
   * (a port there is free here), unless it is a unix socket bound to a path:
   * the path is taken for everybody.
   */
  matched: boolean;
  /**
   * Processes whose fds could not be read while looking for files (their rows
   * would be `NOFD`): a file selector cannot tell whether they hold the file.
   */
  unreadable: number[];
  /**
   * What would let opsd read them: being `root`, or for root `CAP_SYS_PTRACE`
   * (root without it may list another user's fds but not read them); null when
   * opsd has both (a security module or the process's own privileges deny it)
   * or nothing was unreadable.
   */
  unreadableNeeds: "root" | "CAP_SYS_PTRACE" | null;
  /** The paths asked for (as given) that name no file and that nothing open matched either. */
  missingPaths: string[];
  /** The directories asked for (as given) that name none and that nothing open matched either. */
  missingDirs: string[];
  /** `[tid, pid]` for each pid asked for that is a thread of process pid: no process, left out. */
  threads: [number, number][];
  /** The pids asked for that name no process (lsof shows nothing for them either). */
  missingPids: number[];
  /**
   * `[pid, ppid, threads]` for each pid asked for that is a zombie (lsof shows
   * nothing either): with `threads` 1 or less, it exited and holds no fd, but
   * its parent ppid has not reaped it; with more, only its main thread exited
   * and its other threads run on, their fds out of reach of `/proc/PID/fd`.
   */
  zombies: [number, number, number][];
}

const _SPECIALS: SpecialFd[] = ["cwd", "rtd", "txt"];

/** Runs a planned query (see `planFds` in `plan.ts`) over the processes of this machine. */
export async function scanFds(plan: FdsPlan): Promise<FdsScan> {
  const { query, named } = plan;
  const reads = new ProcessReads();
  // A file is no socket: --tcp, --udp and --listen leave no file to match.
  const filtered = _filtersSockets(query);
  const mounts = new MountIndex();
  // A mount point names its filesystem: every file open on it (filtered like --path).
  const filesystems = new FilesystemMatch(filtered ? [] : plan.filesystems, mounts);
  const selection = _selection(query, plan.dirs);
  const sockets = selection.inet || selection.unixPaths.length > 0 ||
    selection.unixDirs.length > 0 || selection.anyUnix;
  const asked = filtered ? [] : query.paths ?? [];
  const paths = filtered ? [] : plan.resolved;
  // Directory trees, for the files in them (their sockets are in `selection`).
  const dirs = filtered ? [] : plan.dirs.map((dir) => dir.resolved);
  const filesNamed = paths.length > 0 || dirs.length > 0;
  const fileSelected = filtered || _namesFiles(query);
  const { pids: candidates, absent } = _candidates(query, reads);
  if (fileSelected && !sockets && !filesNamed) return _scan(absent); // no match
  const tables = new SocketTables();
  const targets = sockets ? tables.targets(selection, tables.own, { own: true }) : [];
  const address = !query.leaks && _namesAddress(query);
  // Whether to look for sockets in other network namespaces: not when they could not count.
  const foreign = sockets &&
    !(query.matchOnly && address && !query.allNetns && !selection.unixPaths.length &&
      !selection.unixDirs.length && !selection.anyUnix);
  if (sockets && targets.length === 0 && !filesNamed && !query.leaks) {
    if (!foreign) return _scan(absent); // no fd walked
    // Nothing here matches: only a process in another network namespace could hold one.
    for (const [namespace, members] of groupByNamespace(candidates, "net")) {
      // Its tables through a live member: a zombie's /proc/PID/net is empty.
      const pid = members.find((member) => reads.stat(member)?.state !== "Z") ?? members[0];
      targets.push(...tables.targets(selection, namespace, { own: false, pid }));
    }
    if (targets.length === 0) return _scan(absent); // no fd walked
  }
  const ids = filtered ? [] : named; // those of `asked`
  const files = ids.filter((id) => id !== null && id !== "missing");
  const wanted: WalkWanted = query.leaks ? { allSockets: true } : {
    inodes: targets,
    paths,
    dirs: dirs.map(dirPrefix),
    fileInodes: files.map((file) => file.ino),
    everything: !fileSelected || filesystems.any,
    netns: foreign ? tables.own : undefined,
  };
  const walked = await walkProcesses(query.leaks ? listPids() : candidates, wanted);
  for (const [pid, namespace] of walked.foreignNetns) {
    targets.push(...tables.targets(selection, namespace, { own: false, pid }));
  }

  const stat = !sockets || filesNamed || !!query.leaks;
  const builder = new _RowBuilder(tables, reads, mounts, stat);
  const chosen = new Set(candidates);
  const targetSet = new Set(targets);
  if (query.leaks) tables.load(walked.sockets);
  const leaks = query.leaks
    ? _findLeaks(walked.sockets, tables, reads, query.leaks.minAgeMs)
    : null;
  const shown: number[] = [];
  for (let i = 0; i < walked.sockets.length; i += 3) {
    const [pid, fd, inode] = walked.sockets.slice(i, i + 3);
    if (!chosen.has(pid) || (fileSelected && !targetSet.has(inode))) continue;
    if (!leaks || leaks.has(`${pid}:${fd}`)) shown.push(pid, fd, inode);
  }
  tables.load(shown);
  const rows: FdRow[] = [];
  for (let i = 0; i < shown.length; i += 3) {
    const [pid, fd, inode] = shown.slice(i, i + 3);
    const row = builder.fd(pid, fd, `socket:[${inode}]`);
    if (row && leaks) row.leaks = leaks.get(`${pid}:${fd}`);
    if (row) rows.push(row);
  }
  const wantedFiles: _FilesNamed = { paths, files, dirs, filesystems };
  for (const [pid, fd, bytes] of walked.links) {
    const link = typeof bytes === "string" ? bytes : decodeName(bytes);
    const row = builder.fd(pid, fd, link);
    if (row && _isWantedFile(row, link, wantedFiles)) rows.push(row);
  }
  // What counts as a match (see FdsScan.matched); with -q, the first one ends the search.
  const counts = (row: FdRow) => !address || !!query.allNetns || _takesAddressHere(row);
  const settled = () => !!query.matchOnly && rows.some(counts);
  if (!leaks && (!fileSelected || filesNamed) && !settled()) {
    for (const pid of candidates) rows.push(...builder.specials(pid, wantedFiles));
  }
  // Each process's maps: only when a file named may be mapped (no directory, FIFO, socket).
  if (!leaks && (ids.some(mayBeMapped) || filesystems.any || dirs.length > 0)) {
    // A file that cannot be stat'ed (EACCES) is known by its name alone.
    const unknown = paths.filter((_, i) => ids[i] === null);
    const hints = [
      ..._mapHints(paths, files, unknown),
      ...filesystems.mapHints(),
      ...dirs.map((dir) => ` ${dirPrefix(dir)}`),
    ];
    for (const pid of candidates) {
      if (settled()) break;
      rows.push(...builder.mapped(pid, { ...wantedFiles, hints, unknown }));
    }
  }
  if (!leaks && !query.pids?.length && !query.commands?.length && !query.users) {
    rows.push(..._unheldRows(targets, walked.sockets, tables));
  }
  // What could not be read: a listing shows it as lsof does; a query counts its processes.
  const unreadable = new Set<number>();
  const listing = !fileSelected && !leaks;
  for (let i = 0; i < walked.denied.length; i += 2) {
    const [pid, errno] = walked.denied.slice(i, i + 2);
    if (!chosen.has(pid)) continue;
    if (listing) rows.push(...builder.noFd(pid, errno));
    else unreadable.add(pid);
  }
  for (let i = 0; i < walked.deniedLinks.length; i += 3) {
    const [pid, fd, errno] = walked.deniedLinks.slice(i, i + 3);
    if (!chosen.has(pid)) continue;
    if (listing) rows.push(...builder.unreadableFd(pid, fd, errno));
    else unreadable.add(pid);
  }
  const counted = rows.filter(counts);
  // A path that names no file may still be open, deleted: only say so when nothing matched it.
  const names = new Set(rows.map((row) => splitDeleted(row.name).path));
  const missingPaths = asked.filter((_, i) => ids[i] === "missing" && !names.has(paths[i]));
  const missingDirs = plan.dirs.filter((dir) =>
    dir.missing && ![...names].some((name) => isInDir(name, dir.resolved))
  ).map((dir) => dir.asked);
  return _scan({
    rows: rows.sort(compareRows),
    matched: counted.length > 0,
    unreadable: [...unreadable],
    missingPaths,
    missingDirs,
    ...absent,
  });
}

/** A scan's result: nothing found unless said otherwise. */
function _scan(found: Partial<Omit<FdsScan, "unreadableNeeds">>): FdsScan {
  const unreadable = found.unreadable ?? [];
  return {
    rows: found.rows ?? [],
    matched: found.matched ?? false,
    unreadable,
    unreadableNeeds: unreadable.length > 0 ? _privilegeLacking() : null,
    missingPaths: found.missingPaths ?? [],
    missingDirs: found.missingDirs ?? [],
    threads: found.threads ?? [],
    missingPids: found.missingPids ?? [],
    zombies: found.zombies ?? [],
  };
}

/**
 * Whether a row takes its address in opsd's network namespace: it is no socket
 * of another one, or a unix socket bound to a path (which is everybody's).
 */
function _takesAddressHere(row: FdRow): boolean {
  if (row.netns === null) return true;
  const path = row.socket?.kind === "unix" ? row.socket.path : "";
  return path !== "" && !path.startsWith("@");
}

/** What opsd lacks to read every process's fds: root, CAP_SYS_PTRACE, or nothing it could gain. */
function _privilegeLacking(): FdsScan["unreadableNeeds"] {
  if (Deno.uid() !== 0) return "root";
  return hasEffectiveCapability(CAP.SYS_PTRACE) ? null : "CAP_SYS_PTRACE";
}

/**
 * Rows for the sockets among `targets` that no walked process holds
 * (`held`: flat `pid, fd, inode` triples) and that are still open after the
 * walk (a connection closed meanwhile is no socket of anybody's). Only asked
 * without process selectors: an unknown holder is not a selected process.
 */
function _unheldRows(targets: number[], held: number[], tables: SocketTables): FdRow[] {
  const heldInodes = new Set<number>();
  for (let i = 2; i < held.length; i += 3) heldInodes.add(held[i]);
  const unheld = [...new Set(targets)].filter((inode) => !heldInodes.has(inode));
  if (unheld.length === 0) return [];
  const rows: FdRow[] = [];
  for (const inode of tables.stillOpen(unheld)) {
    const found = tables.byInode.get(inode);
    if (found && isAddressSocket(found)) {
      rows.push(unheldSocketRow(found, tables.foreignNetns.get(inode) ?? null));
    }
  }
  return rows;
}

/** Whether the query keeps sockets of some kinds only (`--tcp`, `--udp`, `--listen`). */
function _filtersSockets(query: FdsQuery): boolean {
  return Boolean(query.tcp || query.udp || query.listen);
}

/** Whether the query asks about addresses (`--port`, `--listen`, `--unix`): is one taken? */
function _namesAddress(query: FdsQuery): boolean {
  return Boolean(query.ports?.length || query.listen || query.unixPaths?.length);
}

/** Whether the query names files (`--port`, `--path`, `--dir`, `--unix`). */
function _namesFiles(query: FdsQuery): boolean {
  return Boolean(
    query.ports?.length || query.paths?.length || query.dirs?.length || query.unixPaths?.length,
  );
}

/** The socket part of a query (`dirs`: what its `dirs` name). */
function _selection(query: FdsQuery, dirs: NamedDir[]): SocketSelection {
  // Without a file named, the kind filters select every socket of their kind.
  const everyKept = !_namesFiles(query) && _filtersSockets(query);
  const unix = !query.tcp && !query.udp; // unix sockets are neither
  return {
    ports: query.ports ?? [],
    protocols: query.tcp === query.udp ? ["tcp", "udp"] : query.tcp ? ["tcp"] : ["udp"],
    listening: query.listen ?? false,
    inet: Boolean(query.ports?.length) || everyKept,
    unixPaths: unix ? (query.unixPaths ?? []).flatMap((path) => [path, kernelPath(path)]) : [],
    // A socket's path is as it was bound: under the name given, or the one resolved.
    unixDirs: unix ? [...new Set(dirs.flatMap((d) => [resolvePath(d.asked), d.resolved]))] : [],
    anyUnix: unix && everyKept,
  };
}

/** The pids asked for that hold no fds of their own, by why. */
type _Absent = Pick<FdsScan, "threads" | "missingPids" | "zombies">;

/**
 * The processes the process selectors allow (all when there are none), and
 * the pids asked for that hold no fds of their own (lsof shows nothing for
 * them either): threads of another process, pids of no process, zombies.
 */
function _candidates(query: FdsQuery, reads: ProcessReads): { pids: number[]; absent: _Absent } {
  const absent: _Absent = { threads: [], missingPids: [], zombies: [] };
  let pids = !query.pids?.length ? listPids() : [...new Set(query.pids)].filter((pid) => {
    const process = threadGroupOf(pid);
    const stat = process === pid ? reads.stat(pid) : null;
    if (process === null) absent.missingPids.push(pid);
    else if (process !== pid) absent.threads.push([pid, process]);
    else if (stat?.state === "Z") absent.zombies.push([pid, stat.ppid, stat.numThreads]);
    return process === pid;
  });
  if (query.commands?.length) {
    const prefixes = query.commands;
    pids = pids.filter((pid) => {
      const command = reads.stat(pid)?.comm;
      if (command === undefined) return false;
      let names: string[] | undefined; // read once, for the first long prefix
      const programNames = () => names ??= _programNames(pid, reads);
      return prefixes.some((prefix) => _isNamed(command, prefix, programNames));
    });
  }
  const users = query.users;
  if (users) {
    pids = pids.filter((pid) => {
      const uid = reads.owner(pid);
      return uid !== null && (users.only.length === 0 || users.only.includes(uid)) &&
        !users.except.includes(uid);
    });
  }
  return { pids, absent };
}

/** The bytes of a command name the kernel keeps (TASK_COMM_LEN less the NUL). */
const _COMM_BYTES = 15;

/**
 * Whether a process whose command name is `command` is named `prefix` (`-c`):
 * its name starts with it. The kernel keeps only 15 bytes of a process's name
 * (kernel threads' are whole), so a longer prefix (a program's whole name) also
 * matches a process whose name is its first 15 bytes and whose program (or the
 * script it runs) has a file name starting with it (`programNames`, read only
 * then). lsof refuses such a prefix; pgrep matches nothing.
 */
function _isNamed(command: string, prefix: string, programNames: () => string[]): boolean {
  if (command.startsWith(prefix)) return true;
  const bytes = new TextEncoder().encode(prefix);
  if (bytes.length <= _COMM_BYTES) return false;
  if (command !== new TextDecoder().decode(bytes.subarray(0, _COMM_BYTES))) return false;
  return programNames().some((name) => name.startsWith(prefix));
}

/**
 * The file names a process's command name may be cut from: its program's
 * (`/proc/PID/exe`, which only root may read for other users' processes), and
 * its first two arguments' (the program as started, or the interpreter and
 * the script it runs).
 */
function _programNames(pid: number, reads: ProcessReads): string[] {
  const names: string[] = [];
  // Gone, a kernel thread, or another user's: the arguments may still tell.
  const program = reads.programPath(pid);
  if (program !== null) names.push(splitDeleted(program).path);
  try {
    names.push(...Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").slice(0, 2));
  } catch {
    // Gone meanwhile: nothing to match.
  }
  return names.map(basename);
}

/** The files a query names (`--path`, `--dir`), to match rows against. */
interface _FilesNamed {
  /** The paths, as the kernel names them (see `kernelPath`). */
  paths: string[];
  /** What those of them that exist are (device and inode). */
  files: FileId[];
  /** The directory trees, as the kernel names them. */
  dirs: string[];
  /** The filesystems named by their mount points. */
  filesystems: FilesystemMatch;
}

/**
 * Whether the row of a walked link (or of a cwd, rtd or txt) is one of the
 * wanted files: every link without `--path` or `--dir`, else one named as a
 * wanted path or as in a wanted directory tree, the same file (device and
 * inode) as a path under another name (a hard link, another mount), or a file
 * on a filesystem named by its mount point.
 */
function _isWantedFile(row: FdRow, link: string, named: _FilesNamed): boolean {
  const { paths, files, dirs, filesystems } = named;
  if ((paths.length === 0 && dirs.length === 0) || _isFileNamed(link, named)) return true;
  return files.some((file) => row.node === String(file.ino) && row.device === file.device) ||
    filesystems.holds(row);
}

/** Whether `link` names one of the paths or something in one of the directory trees. */
function _isFileNamed(link: string, named: _FilesNamed): boolean {
  const path = splitDeleted(link).path;
  return named.paths.includes(path) || named.dirs.some((dir) => isInDir(path, dir));
}

/**
 * What a maps file holding one of the wanted files must contain: an inode
 * among `files`' (` 260875 `, between the device and the path), a removed
 * one of `paths`, or one of the `unknown` paths (not stat'ed) at a line's end.
 */
function _mapHints(paths: string[], files: FileId[], unknown: string[]): string[] {
  const inodes = files.filter((file) => file.mapDevice !== null).map((file) => ` ${file.ino} `);
  return [
    ...inodes,
    ...paths.map((path) => `${path}${DELETED_MARK}`),
    ...unknown.map((path) => `${path}\n`),
  ];
}

/** What {@linkcode _RowBuilder.mapped} looks for in a process's maps. */
interface _MappedWanted extends _FilesNamed {
  hints: string[];
  unknown: string[];
}

/** Builds rows, reading each process's details once (through the query's `reads`). */
class _RowBuilder {
  #processes = new Map<number, ProcessInfo | null>();
  #mounts: MountIndex;
  #tables: SocketTables;
  #reads: ProcessReads;
  #stat: boolean;
  /** Mapped files stat'ed by name, by device, inode and name: a library many map, once. */
  #mappedIds = new Map<string, FileId | null>();

  constructor(tables: SocketTables, reads: ProcessReads, mounts: MountIndex, stat: boolean) {
    this.#tables = tables;
    this.#reads = reads;
    this.#mounts = mounts;
    this.#stat = stat;
  }

  fd(pid: number, fd: number, link: string): FdRow | null {
    const process = this.#process(pid);
    return process && describeFd(process, fd, link, this.#context());
  }

  /** The cwd, rtd and txt rows of `pid` that are wanted files (all when none is named). */
  specials(pid: number, named: _FilesNamed): FdRow[] {
    // Files matched by name alone (no device and inode to compare): the others are not stat'ed,
    // and a process none of whose links names one (an unreadable link might) is read no further.
    const byName = named.files.length === 0 && !named.filesystems.any &&
      (named.paths.length > 0 || named.dirs.length > 0);
    const wanted = byName ? (target: string) => _isFileNamed(target, named) : undefined;
    if (wanted && !_SPECIALS.some((special) => this.#mayBeWanted(pid, special, wanted))) {
      return [];
    }
    const process = this.#process(pid);
    if (!process) return [];
    const rows: FdRow[] = [];
    for (const special of _SPECIALS) {
      const row = describeSpecial(process, special, this.#context(), wanted);
      if (row && _isWantedFile(row, row.name, named)) rows.push(row);
    }
    return rows;
  }

  /**
   * The `mem` and `DEL` rows of `pid` that are wanted files: the files it has
   * mapped whose device and inode are one of `files`, or, removed, whose name
   * is one of `paths` (the name alone could be another mount namespace's file),
   * or named as one of `unknown` (files that could not be stat'ed), or on one of
   * `filesystems`, or named as in one of `dirs` (by name, as `--dir` matches
   * every file); but its program, which is its `txt` row, as in lsof.
   * `hints`: see {@linkcode readMappedFiles}.
   */
  mapped(pid: number, wanted: _MappedWanted): FdRow[] {
    const { files, paths, dirs, hints, unknown, filesystems } = wanted;
    const rows: FdRow[] = [];
    for (const file of readMappedFiles(pid, hints)) {
      const device = file.device.join(",");
      const named = files.find((id) => id.ino === file.inode && id.mapDevice === device);
      const { path, deleted } = splitDeleted(file.path);
      const removed = deleted && paths.includes(path);
      const filesystem = filesystems.mapped(device);
      const inDir = dirs.some((dir) => isInDir(path, dir));
      if (!named && !removed && !filesystem && !inDir && !unknown.includes(file.path)) continue;
      const process = this.#process(pid);
      if (process && file.path !== this.#reads.programPath(pid)) {
        // Its type and size from its name, stat'ed where that cannot hang (no network fs).
        const local = filesystem ? !filesystem.network : inDir && !this.#onNetworkFs(path);
        const id = named ?? (local && !deleted ? this.#sameFile(file) : null);
        rows.push(mappedFileRow(process, file, id));
      }
    }
    return rows;
  }

  /**
   * Whether the `special` link of `pid` may name a file `wanted` picks: it does,
   * or it cannot be read (its row, if any, says why: described as lsof shows it).
   */
  #mayBeWanted(pid: number, special: SpecialFd, wanted: (target: string) => boolean): boolean {
    try {
      return wanted(specialTarget(pid, special, this.#context()));
    } catch {
      return true;
    }
  }

  /**
   * The identity of a mapped file found by its filesystem or directory, for its row's
   * type and size: its name stat'ed (once per query), when that is still the file
   * mapped; else null.
   */
  #sameFile(file: MappedFile): FileId | null {
    const key = `${file.device.join(",")}:${file.inode}:${file.path}`;
    if (!this.#mappedIds.has(key)) {
      const id = namedFile(file.path);
      const same = id !== null && id !== "missing" && id.ino === file.inode &&
        id.mapDevice === file.device.join(",");
      this.#mappedIds.set(key, same ? id : null);
    }
    return this.#mappedIds.get(key)!;
  }

  /** Whether `path`, as opsd sees it, is on a network or FUSE filesystem (never stat'ed). */
  #onNetworkFs(path: string): boolean {
    const mount = this.#mounts.forPath(Deno.pid, path);
    return mount === undefined || isNetworkFs(mount.fsType);
  }

  noFd(pid: number, errno: number): FdRow[] {
    const process = this.#process(pid);
    return process ? [noFdRow(process, errno)] : [];
  }

  unreadableFd(pid: number, fd: number, errno: number): FdRow[] {
    const process = this.#process(pid);
    return process ? [unreadableFdRow(process, fd, errno)] : [];
  }

  #context() {
    const tables = this.#tables;
    return {
      sockets: tables.byInode,
      netns: tables.foreignNetns,
      mounts: this.#mounts,
      stat: this.#stat,
      programLink: (pid: number) => this.#reads.programLink(pid),
    };
  }

  /** The process's name and owner; null when it is gone or a zombie (lsof skips those too). */
  #process(pid: number): ProcessInfo | null {
    if (this.#processes.has(pid)) return this.#processes.get(pid)!;
    let process: ProcessInfo | null = null;
    const stat = this.#reads.stat(pid);
    const uid = stat && stat.state !== "Z" ? this.#reads.owner(pid) : null;
    if (uid !== null) {
      process = { pid, ppid: stat!.ppid, command: stat!.comm, uid, user: userName(uid) };
    }
    this.#processes.set(pid, process);
    return process;
  }
}

/** The leaking socket fds among `sockets` (flat `pid, fd, inode` triples), by `pid:fd`. */
function _findLeaks(
  sockets: number[],
  tables: SocketTables,
  reads: ProcessReads,
  minAgeMs: number,
) {
  const uptimeMs = readUptimeMs();
  const processes = new Map<number, LeakProcess>();
  for (let i = 0; i < sockets.length; i += 3) {
    const pid = sockets[i];
    if (processes.has(pid)) continue;
    const process = readLeakProcess(pid, uptimeMs, reads);
    if (process) processes.set(pid, process);
  }
  return findLeaks({
    processes,
    sockets,
    isListener: (inode) => tables.isListener(inode),
    cloexec: (pid, fd) => {
      const info = readFdInfo(pid, fd);
      return info === null ? null : (info.flags & O_CLOEXEC) !== 0;
    },
    minAgeMs,
  });
}

/**
 * The fd walk: for every process, list `/proc/PID/fd` and read each link once,
 * spread over the CPUs. The kernel has no socket-to-process index, so finding
 * who holds a port this way costs one `getdents64` per process and one
 * `readlinkat` per fd (a query for sockets alone is asked of the kernel first
 * where it can answer: see kernel_walk.ts); nothing here ever stats an fd's
 * target (a dead NFS mount would hang it).
 *
 * The calling thread walks too, while Workers boot; threads take processes from
 * one shared queue in small chunks, so a late or slow Worker costs nothing. The
 * Worker runs the very same {@linkcode walkFdLinks} function, sent as source, so
 * it works the same from source, from the bundle and from a compiled binary.
 *
 * @module
 */

import { type LibcCalls, libcSource, rawCalls } from "../sys/libc.ts";
import { O } from "../sys/constants.ts";
import { DELETED_MARK } from "../procfs/deleted.ts";
import { kernelSocketWalk } from "./kernel_walk.ts";

/** The calls the walker makes: a Worker binds just these. */
const _WALK_CALLS = [
  "openat",
  "close",
  "getdents64",
  "readlinkat",
  "read",
  "__errno_location",
] as const;

/** The libc calls {@linkcode walkFdLinks} needs. */
export type WalkCalls = Pick<LibcCalls, typeof _WALK_CALLS[number]>;

/** What the walker keeps of the links it reads. */
export interface WalkWanted {
  /** Socket inodes to report wherever they are held. */
  inodes?: number[];
  /** Report every socket fd. */
  allSockets?: boolean;
  /** Paths to report when an fd points at them (also removed: marked as `DELETED_MARK`). */
  paths?: string[];
  /**
   * Directory trees to report fds in, each as its prefix (`/srv/app/`; `/` for
   * the root; see `dirPrefix` in lib/path.ts): a link that starts with one, or names
   * the directory itself (also removed). Tested on the link's bytes, before any
   * decoding.
   */
  dirs?: string[];
  /**
   * Inodes of those paths: a file fd under another name (another hard link, the
   * same file under another mount) is reported too when its fdinfo `ino:` is one
   * of these; the caller checks the device.
   */
  fileInodes?: number[];
  /** Report every link. */
  everything?: boolean;
  /**
   * The reader's own network namespace (`net:[N]`). A process in another one that
   * holds sockets is listed in `foreignNetns` and all its socket fds are kept: its
   * sockets appear only in its own namespace's tables, which the caller reads
   * afterwards.
   */
  netns?: string;
}

/**
 * One thread's walk: the query, open(2)'s directory flags (they differ by
 * architecture), and the mark of a removed file's link (`DELETED_MARK`).
 */
export interface WalkJob extends WalkWanted {
  openDirectory: number;
  deletedMark: string;
}

/** What a walk found. */
export interface WalkResult {
  /** Flat triples `pid, fd, inode`: the socket fds kept. */
  sockets: number[];
  /**
   * `[pid, fd, link]` for the other links kept; a link that is not UTF-8 (a Latin-1
   * file name) as its bytes, for `decodeName` (lib/text/escape.ts) to keep each byte.
   */
  links: [number, number, string | Uint8Array][];
  /** Flat pairs `pid, errno`: fd directories that exist but could not be read. */
  denied: number[];
  /**
   * Flat triples `pid, fd, errno`: fds listed whose link could not be read (root
   * without CAP_SYS_PTRACE may list another user's fds, not read them).
   */
  deniedLinks: number[];
  /** `[pid, "net:[N]"]` for the processes in another network namespace (with `netns`) holding sockets. */
  foreignNetns: [number, string][];
}

// The shared queue: [next index, pid count, index of the first pid, one "started" flag per
// Worker…, pids…]; walkFdLinks reads the same header.
const _COUNT = 1, _PIDS_AT = 2, _SLOTS = 3, _MAX_WORKERS = 7, _PIDS = _SLOTS + _MAX_WORKERS;
/**
 * Below this many processes (about 20k fds) a Worker does not repay its start:
 * creating one blocks the calling thread ~15 ms (Deno builds its isolate
 * before `new Worker` returns) and it needs ~5 ms more before it walks, and two
 * threads walking /proc do not run twice as fast (they contend in the kernel on
 * what many processes share, such as the dentry of /dev/null).
 */
const _PARALLEL_MIN = 1000;
/** Measured here: the ms `new Worker` blocks, and one thread's ms per process (20 fds). */
const _CREATE_MS = 15, _WALK_MS_PER_PROCESS = 0.05;

/**
 * How many Workers walk beside the calling thread: `OPSD_FDS_WORKERS` when set
 * (0 keeps the walk on one CPU), else {@linkcode workersWorthStarting} on the
 * CPUs that are idle now: a CPU busy with other work would only slow both down.
 */
function _workerCount(processes: number): number {
  const configured = Deno.env.get("OPSD_FDS_WORKERS");
  if (configured !== undefined && /^\d+$/.test(configured)) {
    return Math.min(Number(configured), _MAX_WORKERS);
  }
  const cpus = navigator.hardwareConcurrency ?? 1;
  return workersWorthStarting(processes, Math.min(cpus - 1 - _runnableOthers(), _MAX_WORKERS));
}

/**
 * How many Workers repay their start on a walk of `processes` processes with
 * `idleCpus` CPUs to spare: none below 1000 processes; then one more only
 * while the time the calling thread spends creating them stays below each
 * thread's share of the walk (creating Workers one after the other blocks it).
 *
 * @example
 * ```ts
 * workersWorthStarting(2000, 1); // 1
 * workersWorthStarting(2000, 7); // 2
 * ```
 */
export function workersWorthStarting(processes: number, idleCpus: number): number {
  if (processes < _PARALLEL_MIN || idleCpus < 1) return 0;
  const walkMs = processes * _WALK_MS_PER_PROCESS;
  let workers = 1;
  while (workers < idleCpus && (workers + 1) * _CREATE_MS < walkMs / (workers + 2)) workers++;
  return workers;
}

/** How many other threads are runnable right now (`/proc/loadavg`'s `running/total`, minus us). */
function _runnableOthers(): number {
  try {
    const running = Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[3].split("/")[0]);
    return Number.isFinite(running) ? Math.max(0, running - 1) : 0;
  } catch {
    return 0;
  }
}

/**
 * Walks the fds of `pids` on this thread and on Workers (see `OPSD_FDS_WORKERS`),
 * and merges what they kept. Processes that vanish mid-walk are skipped. A query
 * for sockets alone is asked of the kernel instead where it can answer (see
 * `kernel_walk.ts`).
 *
 * @example
 * ```ts
 * const found = await walkProcesses(pids, { inodes: [123456] });
 * ```
 */
export async function walkProcesses(pids: number[], wanted: WalkWanted): Promise<WalkResult> {
  const asked = kernelSocketWalk(pids, wanted);
  if (!asked) return await _walkProc(pids, wanted);
  if (asked.unvisited.length === 0) return asked.found;
  return _merge([asked.found, await _walkProc(asked.unvisited, wanted)]);
}

/** The walk of /proc itself (see {@linkcode walkProcesses}). */
async function _walkProc(pids: number[], wanted: WalkWanted): Promise<WalkResult> {
  const queue = new Int32Array(new SharedArrayBuffer(4 * (_PIDS + pids.length)));
  queue[_COUNT] = pids.length;
  queue[_PIDS_AT] = _PIDS;
  queue.set(pids, _PIDS);
  // The walker cannot import: what differs by architecture goes with the job.
  const job: WalkJob = {
    ...wanted,
    openDirectory: O.DIRECTORY | O.CLOEXEC,
    deletedMark: DELETED_MARK,
  };
  const workers = Array.from(
    { length: _workerCount(pids.length) },
    (_, slot) => _startWorker(queue, job, slot),
  );
  try {
    const results = [walkFdLinks(rawCalls(), queue, job, -1)];
    // The queue is empty now: a Worker that has not started a chunk never will.
    for (const [slot, worker] of workers.entries()) {
      if (Atomics.load(queue, _SLOTS + slot) === 1) results.push(await worker.result);
    }
    return _merge(results);
  } finally {
    for (const worker of workers) worker.terminate();
  }
}

function _merge(results: WalkResult[]): WalkResult {
  if (results.length === 1) return results[0];
  return {
    sockets: results.flatMap((r) => r.sockets),
    links: results.flatMap((r) => r.links),
    denied: results.flatMap((r) => r.denied),
    deniedLinks: results.flatMap((r) => r.deniedLinks),
    foreignNetns: results.flatMap((r) => r.foreignNetns),
  };
}

let _workerUrl: string | undefined;

/** A blob URL for a Worker that opens the walker's calls and runs {@linkcode walkFdLinks}. */
function _workerSource(): string {
  const source = `const walk = ${walkFdLinks.toString()};
const calls = ${libcSource(_WALK_CALLS)};
self.onmessage = ({ data }) => {
  self.postMessage(walk(calls, new Int32Array(data.queue), data.wanted, data.slot));
};`;
  return _workerUrl ??= URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
}

function _startWorker(queue: Int32Array, wanted: WalkJob, slot: number) {
  const worker = new Worker(_workerSource(), { type: "module", name: `opsd-fds-walk-${slot}` });
  const result = new Promise<WalkResult>((resolve, reject) => {
    worker.onmessage = (event) => resolve(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`fd walker: ${event.message}`));
    };
  });
  result.catch(() => {}); // awaited only if the Worker took work
  worker.postMessage({ queue: queue.buffer, wanted, slot });
  return { result, terminate: () => worker.terminate() };
}

/**
 * One thread's share of a walk: takes chunks of pids from `queue` until it is
 * empty. Self-contained (no imports, no module state) because Workers run it
 * from its source text; `slot` is the Worker's index, -1 for the calling thread.
 *
 * The loop over one listing's fds allocates nothing per fd (a link is decoded
 * only when kept) and is a small function of its own: every thread compiles it
 * anew, on the same CPUs the walk needs, and only optimized code reaches libc
 * through Deno's fast FFI path, so it must get optimized early and cheaply.
 */
export function walkFdLinks(
  calls: WalkCalls,
  queue: Int32Array,
  wanted: WalkJob,
  slot: number,
): WalkResult {
  const NEXT = 0, COUNT = 1, PIDS_AT = 2, SLOTS = 3, CHUNK = 8;
  const AT_FDCWD = -100, O_DIRECTORY_CLOEXEC = wanted.openDirectory;
  const ENOENT = 2, ESRCH = 3;
  const ZERO = 48, DOT = 46, SLASH = 47, CLOSE_BRACKET = 93;
  const LINK_MAX = 4096n, ENTRIES = 1 << 16, ENTRIES_SIZE = 65536n;
  const { openat, close, getdents64, readlinkat, read } = calls;
  const O_RDONLY_CLOEXEC = 0o2000000, INFO_SIZE = 512;
  const result: WalkResult = {
    sockets: [],
    links: [],
    denied: [],
    deniedLinks: [],
    foreignNetns: [],
  };
  const everything = wanted.everything === true;
  const keepSockets = everything || wanted.allSockets === true;
  const inodes = new Set(wanted.inodes ?? []);
  const paths = new Set(wanted.paths ?? []);
  const DELETED = wanted.deletedMark;
  // Only a link as long as a wanted path (or one marked removed) is decoded and compared.
  const DELETED_BYTES = new TextEncoder().encode(DELETED);
  const pathLengths = new Set([...paths].flatMap((p) => {
    const length = new TextEncoder().encode(p).length;
    return [length, length + DELETED_BYTES.length];
  }));
  const dirs = (wanted.dirs ?? []).map((prefix) => new TextEncoder().encode(prefix));
  // Fatal: a link that is not UTF-8 is kept as bytes (see WalkResult.links), never as U+FFFD.
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const entries = new Uint8Array(ENTRIES);
  const link = new Uint8Array(4097);
  const path = new Uint8Array(32); // "PID/fd", NUL-terminated
  const name = new Uint8Array(16); // an fd number, NUL-terminated
  const FD_SUFFIX = [47, 102, 100, 0]; // "/fd"
  const NETNS = new TextEncoder().encode("../ns/net\0"); // from /proc/PID/fd
  const SOCKET_PREFIX = [115, 111, 99, 107, 101, 116, 58, 91]; // "socket:["
  const ownNetns = new TextEncoder().encode(wanted.netns ?? "");
  const fileInodes = new Set(wanted.fileInodes ?? []);
  const info = new Uint8Array(INFO_SIZE);
  const infoPath = new Uint8Array(48); // "PID/fdinfo/FD", NUL-terminated
  const FDINFO = new TextEncoder().encode("/fdinfo/");
  const INO = new TextEncoder().encode("\nino:\t");

  const errno = () => new Deno.UnsafePointerView(calls.__errno_location()!).getInt32();
  /** Writes `PID/fd` into `path`. */
  const fdDirPath = (pid: number) => {
    let length = 1;
    for (let rest = pid; rest >= 10; rest = (rest / 10) | 0) length++;
    for (let i = length - 1, rest = pid; i >= 0; i--, rest = (rest / 10) | 0) {
      path[i] = ZERO + (rest % 10);
    }
    path.set(FD_SUFFIX, length);
    return path;
  };
  const keepPath = (length: number) => {
    if (!pathLengths.has(length) || link[0] !== SLASH) return false;
    let text: string;
    try {
      text = decoder.decode(link.subarray(0, length));
    } catch {
      return false; // not UTF-8: no path asked for (they are text) is this one
    }
    return paths.has(text) ||
      (text.endsWith(DELETED) && paths.has(text.slice(0, -DELETED.length)));
  };
  /**
   * Whether the link read (`length` bytes) is in one of `dirs`: it starts with
   * its prefix (`/srv/app/`), or is the directory itself (`/srv/app`, or
   * `/srv/app (deleted)`). Compares bytes; decodes nothing.
   */
  const inDir = (length: number) => {
    for (const prefix of dirs) {
      const dir = prefix.length - 1; // the directory's own name: the prefix without its "/"
      let same = length >= dir;
      for (let i = 0; i < dir && same; i++) same = link[i] === prefix[i];
      if (!same) continue;
      if (length === dir || (length > dir && link[dir] === SLASH)) return true;
      let removed = length === dir + DELETED_BYTES.length;
      for (let i = 0; i < DELETED_BYTES.length && removed; i++) {
        removed = link[dir + i] === DELETED_BYTES[i];
      }
      if (removed) return true;
    }
    return false;
  };
  /**
   * Whether the fd named in `name` (`end` digits) of `pid` is a wanted file under
   * another name: its `/proc/PID/fdinfo/FD` says `ino:` one of `fileInodes`. Reads
   * the kernel's record of the fd, never the file itself.
   */
  const inodeWanted = (pid: number, end: number) => {
    const at = fdDirPath(pid).indexOf(47); // "PID/fd": the pid's length
    infoPath.set(path.subarray(0, at));
    infoPath.set(FDINFO, at);
    infoPath.set(name.subarray(0, end + 1), at + FDINFO.length);
    const fd = openat(proc, infoPath, O_RDONLY_CLOEXEC, 0);
    if (fd < 0) return false;
    const length = Number(read(fd, info, BigInt(INFO_SIZE)));
    close(fd);
    let start = -1;
    for (let i = 0; i + INO.length <= length && start < 0; i++) {
      let same = true;
      for (let j = 0; j < INO.length && same; j++) same = info[i + j] === INO[j];
      if (same) start = i + INO.length;
    }
    if (start < 0) return false;
    let inode = 0;
    for (let i = start; i < length && info[i] >= ZERO && info[i] <= ZERO + 9; i++) {
      inode = inode * 10 + info[i] - ZERO;
    }
    return fileInodes.has(inode);
  };
  /**
   * Whether the process `pid`, whose fd directory is open as `dir`, is in another
   * network namespace than the reader (then recorded). Asked at its first socket
   * that is not wanted otherwise, so processes without sockets cost nothing more.
   */
  const isForeign = (dir: number, pid: number) => {
    const length = Number(readlinkat(dir, NETNS, link, LINK_MAX));
    let same = length === ownNetns.length;
    for (let i = 0; i < length && same; i++) same = link[i] === ownNetns[i];
    if (length <= 0 || same) return false;
    result.foreignNetns.push([pid, decoder.decode(link.subarray(0, length))]);
    return true;
  };

  // Whether the process being walked is in another network namespace (undefined: not read yet).
  let foreign: boolean | undefined;
  /** Reads the link of each fd in a `getdents64` listing of `size` bytes, keeping those wanted. */
  const readLinks = (pid: number, dir: number, size: number) => {
    for (let offset = 0, next = 0; offset < size; offset = next) {
      next = offset + (entries[offset + 16] | (entries[offset + 17] << 8)); // d_reclen
      let at = offset + 19; // d_name
      if (entries[at] === DOT) continue;
      let fd = 0, end = 0;
      for (let byte = entries[at]; byte !== 0; byte = entries[++at]) {
        fd = fd * 10 + byte - ZERO;
        name[end++] = byte;
      }
      name[end] = 0;
      const length = Number(readlinkat(dir, name, link, LINK_MAX));
      if (length <= 0) {
        // ENOENT: closed since the listing. Else unreadable (EACCES): shown, or counted.
        const code = errno();
        if (code !== ENOENT && code !== ESRCH) result.deniedLinks.push(pid, fd, code);
        continue;
      }
      let socket = length > 9 && link[length - 1] === CLOSE_BRACKET;
      for (let j = 0; j < 8 && socket; j++) socket = link[j] === SOCKET_PREFIX[j];
      if (socket) {
        let inode = 0;
        for (let j = 8; j < length - 1; j++) inode = inode * 10 + link[j] - ZERO;
        const kept = keepSockets || inodes.has(inode) || (foreign ??= isForeign(dir, pid));
        if (kept) result.sockets.push(pid, fd, inode);
      } else if (
        everything || keepPath(length) || (dirs.length > 0 && inDir(length)) ||
        (fileInodes.size > 0 && link[0] === SLASH && inodeWanted(pid, end))
      ) {
        const bytes = link.subarray(0, length);
        let text: string | Uint8Array;
        try {
          text = decoder.decode(bytes);
        } catch {
          text = bytes.slice();
        }
        result.links.push([pid, fd, text]);
      }
    }
  };

  const proc = openat(AT_FDCWD, new TextEncoder().encode("/proc\0"), O_DIRECTORY_CLOEXEC, 0);
  if (proc < 0) throw new Error(`cannot open /proc (errno ${errno()})`);
  try {
    if (slot >= 0) Atomics.store(queue, SLOTS + slot, 1);
    const count = queue[COUNT], pids = queue[PIDS_AT];
    for (let start = Atomics.add(queue, NEXT, CHUNK); start < count;) {
      const stop = Math.min(count, start + CHUNK);
      for (let i = start; i < stop; i++) {
        const pid = queue[pids + i];
        foreign = wanted.netns === undefined ? false : undefined;
        const dir = openat(proc, fdDirPath(pid), O_DIRECTORY_CLOEXEC, 0);
        if (dir < 0) {
          const code = errno();
          if (code !== ENOENT && code !== ESRCH) result.denied.push(pid, code);
          continue;
        }
        for (let more = true; more;) {
          const size = Number(getdents64(dir, entries, ENTRIES_SIZE));
          if (size <= 0) break;
          // procfs fills the buffer while entries fit: room left means the listing is complete.
          more = size > ENTRIES - 512;
          readLinks(pid, dir, size);
        }
        close(dir);
      }
      start = Atomics.add(queue, NEXT, CHUNK);
    }
  } finally {
    close(proc);
  }
  return result;
}

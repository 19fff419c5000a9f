/**
 * An `opsd fds` query, settled once before any fd is walked: each `--path` is
 * stat'ed here, once (see `namedFile`), and the rule that a file is no socket
 * while a unix socket file names the sockets bound there (as `--unix` does)
 * lives here alone. It decides both whether the query could match at all and
 * what the scan looks for.
 *
 * @module
 */

import { escapeText } from "../text/escape.ts";
import { isSocketFile, kernelPath, type NamedFile, namedFile } from "./paths.ts";
import { type NamedFilesystem, namedFilesystems } from "./filesystems.ts";
import type { PortRange } from "../procfs/net.ts";

/** What to show. Empty lists and absent flags select nothing in particular. */
export interface FdsQuery {
  /** Only these processes. */
  pids?: number[];
  /** Only processes whose command name starts with one of these (as `lsof -c`). */
  commands?: string[];
  /**
   * Only processes owned by one of the uids `only` (any, when empty) and by none
   * of `except` (as `lsof -u 33,^0`).
   */
  users?: { only: number[]; except: number[] };
  /** Sockets with a local or remote port in one of these ranges. */
  ports?: PortRange[];
  /** TCP sockets only (with `udp`: either). */
  tcp?: boolean;
  /** UDP sockets only. */
  udp?: boolean;
  /**
   * Listening sockets only: TCP in LISTEN, UDP bound and not connected, unix in LISTEN
   * or a datagram one bound to a path and connected to none.
   */
  listen?: boolean;
  /**
   * Fds open on these files (symlinks followed). A unix socket file among them,
   * which no fd is open on, names the sockets bound there, as in `unixPaths`.
   */
  paths?: string[];
  /** Unix sockets bound to these paths. */
  unixPaths?: string[];
  /**
   * Directory trees (as lsof's `+D`): fds, cwd, root directories, programs and
   * mapped files named as these directories or below them, and the unix sockets
   * bound below them. Matched by name: the tree is never stat'ed to find them.
   */
  dirs?: string[];
  /** Report only leaking socket fds; `no-cloexec` needs a process at least this old. */
  leaks?: { minAgeMs: number };
  /**
   * Whether sockets of other network namespaces count as a match of an address
   * query (`ports`, `listen`, `unixPaths`; see `FdsScan.matched`).
   */
  allNetns?: boolean;
  /**
   * Only `matched` is wanted (`-q`): rows that could not count need not be found
   * (the sockets of other network namespaces, for an address query).
   */
  matchOnly?: boolean;
}

/** A query ready to scan (see {@linkcode planFds}). */
export interface FdsPlan {
  /**
   * The query, with the unix socket files among its paths also named as
   * `unixPaths`: no fd is open on a socket's file, and lsof, given one, lists
   * the sockets bound there; so does `--path`.
   */
  query: FdsQuery;
  /** What each of `query.paths` names (symlinks followed), in order. */
  named: NamedFile[];
  /** Each of `query.paths` as the kernel names fds open on it (see `kernelPath`), in order. */
  resolved: string[];
  /** What each of `query.dirs` names, in order. */
  dirs: NamedDir[];
  /**
   * The filesystems among `query.paths`: a mount point names every file open
   * on its filesystem, as in lsof.
   */
  filesystems: NamedFilesystem[];
  /**
   * Why the query could never match, as one line for people; null when it
   * could. A `dirs` entry that names a file other than a directory holds
   * nothing; and the files named (`ports`, `paths`, `dirs`, `unixPaths`) must
   * pass the socket filters (`tcp`, `udp`, `listen`): a port passes every filter;
   * a file none, being no socket; a unix socket only `listen`, be it named by
   * `unixPaths`, by a path naming a socket file, or bound below one of `dirs`.
   */
  never: string | null;
  /**
   * The `unixPaths` that name no socket file now: `missing` (no file there) or
   * `file` (some other file: a typo, or a file meant for `--path`). A socket bound
   * at a path removed since still matches, so they are said only when nothing
   * matched. Abstract names (`@name`) have no file and are never here.
   */
  strayUnix: { path: string; found: "missing" | "file" }[];
}

/** A directory tree a query names (`--dir`). */
export interface NamedDir {
  /** As given. */
  asked: string;
  /** As the kernel names what is in it: absolute, symlinks resolved (see `kernelPath`). */
  resolved: string;
  /** No such directory now: only what was removed, named as in it, can still match. */
  missing: boolean;
  /** It names a file that is no directory. */
  notDirectory: boolean;
}

/**
 * Stats each of `query.paths` once and settles what the query names.
 *
 * @example
 * ```ts
 * planFds({ paths: ["/etc/hosts"], listen: true }).never;
 * // "--path never matches with --listen: files are no sockets"
 * ```
 */
export function planFds(query: FdsQuery): FdsPlan {
  const paths = query.paths ?? [];
  const named = paths.map(namedFile);
  const resolved = paths.map(kernelPath);
  const sockets = paths.filter((_, i) => isSocketFile(named[i]));
  const dirs = (query.dirs ?? []).map(_namedDir);
  return {
    query: sockets.length === 0
      ? query
      : { ...query, unixPaths: [...(query.unixPaths ?? []), ...sockets] },
    named,
    resolved,
    dirs,
    filesystems: namedFilesystems(resolved, named),
    never: _notDirectory(dirs) ?? _neverMatching(query, sockets),
    strayUnix: _strayUnix(query.unixPaths ?? []),
  };
}

/** What a `--dir` names, from one statx (`namedFile`). */
function _namedDir(asked: string): NamedDir {
  const file = namedFile(asked);
  return {
    asked,
    resolved: kernelPath(asked),
    missing: file === "missing",
    // Not stat'ed (a directory on the way is closed to opsd): taken by its name.
    notDirectory: file !== null && file !== "missing" && file.type !== "DIR",
  };
}

/** Why a `--dir` could never match: it names a file that is no directory; else null. */
function _notDirectory(dirs: NamedDir[]): string | null {
  const file = dirs.find((dir) => dir.notDirectory);
  return file ? `--dir ${escapeText(file.asked)} is no directory: for a file use --path` : null;
}

/** See {@linkcode FdsPlan.strayUnix}. */
function _strayUnix(unixPaths: string[]): FdsPlan["strayUnix"] {
  const stray: FdsPlan["strayUnix"] = [];
  for (const path of unixPaths) {
    if (path.startsWith("@")) continue;
    const file = namedFile(path);
    if (file === "missing") stray.push({ path, found: "missing" });
    else if (file !== null && !isSocketFile(file)) stray.push({ path, found: "file" });
  }
  return stray;
}

/** See {@linkcode FdsPlan.never}; `socketPaths`: the paths among `query.paths` naming socket files. */
function _neverMatching(query: FdsQuery, socketPaths: string[]): string | null {
  const paths = query.paths ?? [], unixPaths = query.unixPaths ?? [], dirs = query.dirs ?? [];
  const filter = query.tcp ? "--tcp" : query.udp ? "--udp" : null;
  const socketFilter = filter ?? (query.listen ? "--listen" : null);
  // A directory may hold files and unix sockets alike.
  const unix = unixPaths.length > 0 || socketPaths.length > 0 || dirs.length > 0;
  const files = paths.length > socketPaths.length || dirs.length > 0;
  if (query.ports?.length || socketFilter === null || (unix && filter === null)) return null;
  if (!files && !unix) return null;
  const flags = [[paths, "--path"], [dirs, "--dir"], [unixPaths, "--unix"]] as const;
  const given = flags.filter(([values]) => values.length > 0).map(([, flag]) => flag);
  const named = given.length === 1
    ? `${given[0]} never matches`
    : `${given.slice(0, -1).join(", ")} and ${given.at(-1)} never match`;
  const reasons = [
    files ? "files are no sockets" : null,
    socketPaths.length > 0 ? `${escapeText(socketPaths[0])} is a unix socket file` : null,
    unix ? "a unix socket is neither TCP nor UDP" : null,
  ].filter((reason) => reason !== null);
  const why = reasons.length === 1
    ? reasons[0]
    : `${reasons.slice(0, -1).join(", ")}, and ${reasons.at(-1)}`;
  return `${named} with ${socketFilter}: ${why}`;
}

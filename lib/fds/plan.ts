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
  /**
   * The filesystems among `query.paths`: a mount point names every file open
   * on its filesystem, as in lsof.
   */
  filesystems: NamedFilesystem[];
  /**
   * Why the files named (`ports`, `paths`, `unixPaths`) could never pass the
   * socket filters (`tcp`, `udp`, `listen`), as one line for people; null when
   * one of them could. A port passes every filter; a file none, being no
   * socket; a unix socket only `listen`, be it named by `unixPaths` or by a path
   * naming a socket file.
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
  return {
    query: sockets.length === 0
      ? query
      : { ...query, unixPaths: [...(query.unixPaths ?? []), ...sockets] },
    named,
    resolved,
    filesystems: namedFilesystems(resolved, named),
    never: _neverMatching(query, sockets),
    strayUnix: _strayUnix(query.unixPaths ?? []),
  };
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
  const paths = query.paths ?? [], unixPaths = query.unixPaths ?? [];
  const filter = query.tcp ? "--tcp" : query.udp ? "--udp" : null;
  const socketFilter = filter ?? (query.listen ? "--listen" : null);
  const unix = unixPaths.length > 0 || socketPaths.length > 0;
  const files = paths.length > socketPaths.length;
  if (query.ports?.length || socketFilter === null || (unix && filter === null)) return null;
  if (!files && !unix) return null;
  const named = paths.length > 0 && unixPaths.length > 0
    ? "--path and --unix never match"
    : `${paths.length > 0 ? "--path" : "--unix"} never matches`;
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

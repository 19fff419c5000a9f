/**
 * Reading a process's links (`/proc/PID/cwd`, `root`, `exe`, `fd/N`) as names:
 * bytes that are not UTF-8 keep their value (see `decodeName`), as the fd walker
 * keeps them, so a table shows `\xe9` as lsof does.
 *
 * @module
 */

import { readLink } from "../sys/libc.ts";
import { decodeName } from "../text/escape.ts";

/**
 * The target of the link `path` as a name; throws the SysError of readlink
 * (`ENOENT`: gone, or a kernel thread's exe; `EACCES`: another user's process).
 */
export function readLinkName(path: string): string {
  return decodeName(readLink(path));
}

/**
 * Users and groups: names for uids, as `ls` and lsof print them (from
 * `/etc/passwd`, read once, then the C library — NSS: LDAP, sssd… — for uids not
 * found there), uids for names, the range of ids, and this process's groups.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { getpwnam, getpwuid } from "../sys/libc.ts";

let _names: Map<number, string> | undefined;

/** The name of the user with `uid`, or the uid as text when it has none. */
export function userName(uid: number): string {
  _names ??= _readPasswd();
  let name = _names.get(uid);
  if (name === undefined) {
    name = getpwuid(uid)?.name ?? String(uid);
    _names.set(uid, name);
  }
  return name;
}

/** The highest uid or gid: (uid_t)-1 means "unchanged" to the kernel, never an id. */
const _MAX_ID = 2 ** 32 - 2;

/**
 * Refuses (a UsageError, exit 2) a numeric uid or gid `digits` above
 * 4294967294, which no process can have; `what` names it (`uid`, or
 * `web.conf:3: gid`).
 */
export function checkId(digits: string, what: string): void {
  if (Number(digits) > _MAX_ID) {
    throw new UsageError(`${what} ${digits} is out of range: ids go from 0 to ${_MAX_ID}`);
  }
}

/**
 * The uid of user `name`, a login name (from `/etc/passwd` or NSS) or a uid as
 * digits (which needs no account; see {@linkcode checkId}); null when no account
 * has that name.
 */
export function userId(name: string): number | null {
  if (/^\d+$/.test(name)) {
    checkId(name, "uid");
    return Number(name);
  }
  return getpwnam(name)?.uid ?? null;
}

/** This process's supplementary groups (`Groups:` in /proc/self/status). */
export function ownGroups(): number[] {
  const line = /^Groups:(.*)$/m.exec(Deno.readTextFileSync("/proc/self/status"))?.[1] ?? "";
  return line.trim().split(/\s+/).filter((id) => id !== "").map(Number);
}

function _readPasswd(): Map<number, string> {
  const names = new Map<number, string>();
  let text = "";
  try {
    text = Deno.readTextFileSync("/etc/passwd");
  } catch {
    return names; // no local accounts file: NSS answers
  }
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    if (fields.length >= 3 && !names.has(Number(fields[2]))) {
      names.set(Number(fields[2]), fields[0]);
    }
  }
  return names;
}

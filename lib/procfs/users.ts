/**
 * User names for uids, as `ls` and lsof print them: from `/etc/passwd` (read
 * once), then the C library (NSS: LDAP, sssd…) for uids not found there.
 *
 * @module
 */

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
export const MAX_ID = 2 ** 32 - 2;

/**
 * The uid of user `name`, a login name (from `/etc/passwd` or NSS) or a uid as
 * digits (which needs no account); null when no account has that name. Throws a
 * RangeError for digits above {@linkcode MAX_ID}, which no process can have.
 */
export function userId(name: string): number | null {
  if (/^\d+$/.test(name)) {
    if (Number(name) > MAX_ID) {
      throw new RangeError(`uid ${name} is out of range: ids go from 0 to ${MAX_ID}`);
    }
    return Number(name);
  }
  return getpwnam(name)?.uid ?? null;
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

/**
 * Who a child runs as: resolving `--user`/`--group` to ids, and dropping to them
 * before exec (supplementary groups, then gid, then uid).
 *
 * @module
 */

import { ExitCode, OpsdError, UsageError } from "../errors.ts";
import {
  getgrnam,
  getgrouplist,
  getpwnam,
  getpwuid,
  setgid,
  setgroups,
  setuid,
} from "../sys/libc.ts";

/** The ids a child is started with. */
export interface Credentials {
  /** The user's name (or its uid as text when the account has no name). */
  user: string;
  /** The group as asked for; undefined when it is the user's primary group. */
  group?: string;
  uid: number;
  gid: number;
  /** Supplementary groups, the primary one included. */
  groups: number[];
}

/** Where the user and group values came from, named in errors (`/srv/web/opsd.conf:3: user`). */
export interface CredentialSources {
  user?: string;
  group?: string;
}

/**
 * The credentials for `user` (a name or a uid) and optionally `group` (a name or
 * a gid; default: the user's primary group). Throws a UsageError for an unknown
 * user or group, and a permission error when opsd is not root and the user is
 * not itself; each names the value's source when `sources` gives it.
 */
export function resolveCredentials(
  user: string,
  group?: string,
  sources: CredentialSources = {},
): Credentials {
  const from = (key: keyof CredentialSources) => sources[key] ? `${sources[key]}: ` : "";
  const entry = /^\d+$/.test(user) ? getpwuid(Number(user)) : getpwnam(user);
  if (!entry && !/^\d+$/.test(user)) {
    throw new UsageError(
      `${from("user")}unknown user "${user}": name an existing account (see 'getent passwd')`,
    );
  }
  const uid = entry?.uid ?? Number(user);
  let gid = entry?.gid ?? uid;
  if (group !== undefined) {
    const found = /^\d+$/.test(group) ? Number(group) : getgrnam(group);
    if (found === null) {
      throw new UsageError(
        `${from("group")}unknown group "${group}": name an existing group (see 'getent group')`,
      );
    }
    gid = found;
  }
  if (Deno.uid() !== 0 && uid !== Deno.uid()) {
    throw new OpsdError(
      `${from("user")}cannot run as user "${user}": only root can switch users; ` +
        "run opsd as root or drop --user",
      ExitCode.permission,
    );
  }
  const groups = entry && group === undefined ? getgrouplist(entry.name, gid) : [gid];
  return { user: entry?.name ?? user, group, uid, gid, groups };
}

/** Switches the whole process to `credentials`; irreversible once the uid changes. */
export function dropPrivileges(credentials: Credentials): void {
  if (Deno.uid() === 0) setgroups(credentials.groups);
  setgid(credentials.gid);
  setuid(credentials.uid);
}

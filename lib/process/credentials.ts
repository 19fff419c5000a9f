/**
 * Who a child runs as: resolving `--user`/`--group` to ids, the variables that
 * say who it is (HOME, USER, LOGNAME), and dropping to them before exec
 * (supplementary groups, then gid, then uid).
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
  /**
   * The user's name (or its uid as text when the account has no name); undefined
   * when the user is kept and only the group changes.
   */
  user?: string;
  /** The group as asked for; undefined when it is the user's primary group. */
  group?: string;
  uid: number;
  gid: number;
  /** Supplementary groups, the primary one included. */
  groups: number[];
  /** The user's home directory, as its account says; null for a uid with no account. */
  home: string | null;
}

/** Where the user and group values came from, named in errors (`/srv/web/opsd.conf:3: user`). */
export interface CredentialSources {
  user?: string;
  group?: string;
}

/**
 * The credentials for `user` (a name or a uid) and optionally `group` (a name or
 * a gid; default: the user's primary group). Without `user`, opsd's own uid is
 * kept and `group` becomes the primary and only group (as `setpriv --regid G
 * --clear-groups` does). Throws a UsageError for an unknown user or group, and a
 * permission error when opsd is not root and the user or group is not its own;
 * each names the value's source when `sources` gives it.
 */
export function resolveCredentials(
  user: string | undefined,
  group?: string,
  sources: CredentialSources = {},
): Credentials {
  const from = (key: keyof CredentialSources) => sources[key] ? `${sources[key]}: ` : "";
  const entry = user === undefined
    ? null
    : /^\d+$/.test(user)
    ? getpwuid(Number(user))
    : getpwnam(user);
  if (user !== undefined && !entry && !/^\d+$/.test(user)) {
    throw new UsageError(
      `${from("user")}unknown user "${user}": name an existing account (see 'getent passwd')`,
    );
  }
  const uid = user === undefined ? Deno.uid()! : entry?.uid ?? Number(user);
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
  if (Deno.uid() !== 0 && group !== undefined && gid !== Deno.gid()) {
    throw new OpsdError(
      `${from("group")}cannot run with group "${group}": only root can switch groups; ` +
        "run opsd as root or drop --group",
      ExitCode.permission,
    );
  }
  const groups = entry && group === undefined ? getgrouplist(entry.name, gid) : [gid];
  const name = user === undefined ? undefined : entry?.name ?? user;
  return { user: name, group, uid, gid, groups, home: entry?.home ?? null };
}

/**
 * The variables that say who a program runs as, `HOME`, `USER` and `LOGNAME`, for
 * `credentials` that switch users (as su, runuser and systemd's `User=` set them;
 * HOME is `/` for a uid with no account); none when the user is kept.
 *
 * @example
 * ```ts
 * const env = { ...startEnvironment(), ...userEnvironment(resolveCredentials("www-data")) };
 * // HOME=/var/www USER=www-data LOGNAME=www-data
 * ```
 */
export function userEnvironment(credentials?: Credentials): Record<string, string> {
  const user = credentials?.user;
  if (user === undefined) return {};
  return { HOME: credentials!.home ?? "/", USER: user, LOGNAME: user };
}

/** Switches the whole process to `credentials`; irreversible once the uid changes. */
export function dropPrivileges(credentials: Credentials): void {
  if (Deno.uid() === 0) setgroups(credentials.groups);
  setgid(credentials.gid);
  setuid(credentials.uid);
}

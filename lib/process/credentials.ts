/**
 * Who a child runs as: resolving `--user`/`--group` to ids, the variables that
 * say who it is (HOME, USER, LOGNAME), and dropping to them before exec
 * (supplementary groups, then gid, then uid).
 *
 * @module
 */

import { ExitCode, OpsdError, UsageError } from "../errors.ts";
import { CAP, hasEffectiveCapability, setgroupsDenied } from "../procfs/capabilities.ts";
import { checkId, ownGroups } from "../procfs/users.ts";
import {
  getgrnam,
  getgrouplist,
  getpwnam,
  getpwuid,
  isErrno,
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
  // A flag is dropped; a setting from a file (its source names the line) is removed there.
  const drop = (key: keyof CredentialSources) =>
    sources[key] && !sources[key]!.startsWith("--") ? "remove that setting" : `drop --${key}`;
  const numeric = user !== undefined && /^\d+$/.test(user);
  if (numeric) checkId(user, `${from("user")}uid`);
  const entry = user === undefined ? null : numeric ? getpwuid(Number(user)) : getpwnam(user);
  if (user !== undefined && !entry && !numeric) {
    throw new UsageError(
      `${from("user")}unknown user "${user}": name an existing account (see 'getent passwd')`,
    );
  }
  const uid = user === undefined ? Deno.uid()! : entry?.uid ?? Number(user);
  let gid = entry?.gid ?? uid;
  if (group !== undefined) {
    if (/^\d+$/.test(group)) checkId(group, `${from("group")}gid`);
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
        `run opsd as root or ${drop("user")}`,
      ExitCode.permission,
    );
  }
  if (Deno.uid() !== 0 && group !== undefined && gid !== Deno.gid()) {
    throw new OpsdError(
      `${from("group")}cannot run with group "${group}": only root can switch groups; ` +
        `run opsd as root or ${drop("group")}`,
      ExitCode.permission,
    );
  }
  const groups = entry && group === undefined ? getgrouplist(entry.name, gid) : [gid];
  if (Deno.uid() !== 0) {
    const asked = group !== undefined
      ? `with group "${group}" as its only group`
      : `as user "${user}" with its groups (${groups.join(",")})`;
    const key = group !== undefined ? "group" : "user";
    _refuseGroupChange(gid, groups, `${from(key)}cannot run ${asked}`, drop(key));
  }
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

/**
 * Refuses (exit 4), for a caller that is not root, a switch to primary group `gid`
 * and supplementary `groups` that would change this process's supplementary groups:
 * only root may (setgroups), and running the program with groups kept that it was
 * to drop, or without groups it was to have, would be silent. `refused` begins the
 * message (`cannot run with group "x" as its only group`); `drop` is the remedy.
 */
function _refuseGroupChange(gid: number, groups: number[], refused: string, drop: string): void {
  const own = ownGroups();
  const extra = own.filter((id) => id !== gid && !groups.includes(id));
  // The primary group is setgid's to refuse (it says why): only the others here.
  const missing = groups.filter((id) => id !== gid && id !== Deno.gid() && !own.includes(id));
  if (extra.length === 0 && missing.length === 0) return;
  const differ = [
    extra.length > 0 ? `opsd also has group(s) ${extra.join(",")}` : null,
    missing.length > 0 ? `opsd lacks group(s) ${missing.join(",")}` : null,
  ].filter((part) => part !== null).join(" and ");
  throw new OpsdError(
    `${refused}: ${differ}, and only root can change supplementary groups; run opsd as root ` +
      `or ${drop}`,
    ExitCode.permission,
  );
}

/**
 * Switches the whole process to `credentials`; irreversible once the uid changes.
 * A switch the kernel refuses (EPERM) is an OpsdError with exit code 4 naming the
 * call, the reason (not root; root without CAP_SETGID or CAP_SETUID, as in a
 * restricted container; a user namespace that denies setgroups) and what to do.
 */
export function dropPrivileges(credentials: Credentials): void {
  try {
    if (Deno.uid() === 0) setgroups(credentials.groups);
    setgid(credentials.gid);
    setuid(credentials.uid);
  } catch (error) {
    if (!isErrno(error, "EPERM")) throw error;
    throw new OpsdError(
      `${_cannotRun(credentials)}: ${error.message}: ${_whyRefused(error.call, credentials)}`,
      ExitCode.permission,
      { cause: error },
    );
  }
}

/** `cannot run as user "www-data"`, `… with group "web"`, or `cannot run with group "web"`. */
function _cannotRun({ user, group }: Credentials): string {
  const as = user === undefined ? [] : [`as user "${user}"`];
  const withGroup = group === undefined ? [] : [`with group "${group}"`];
  return ["cannot run", ...as, ...withGroup].join(" ");
}

/** Why the kernel refused `call` (setgroups, setgid or setuid) with EPERM, and what to do. */
function _whyRefused(call: string, { user, group }: Credentials): string {
  const options = user === undefined
    ? "--group"
    : group === undefined
    ? "--user"
    : "--user and --group";
  if (Deno.uid() !== 0) {
    const what = call === "setuid" ? "users" : "groups";
    return `only root can switch ${what}; run opsd as root or drop ${options}`;
  }
  if (call === "setgroups" && setgroupsDenied()) {
    return "opsd's user namespace denies setgroups (/proc/self/setgroups says deny, as in a " +
      `rootless container); run opsd outside it, or drop ${options}`;
  }
  const missing = call === "setuid" ? "CAP_SETUID" : "CAP_SETGID";
  if (!hasEffectiveCapability(call === "setuid" ? CAP.SETUID : CAP.SETGID)) {
    const needs = user === undefined
      ? "switching groups needs CAP_SETGID: grant it"
      : "switching users needs CAP_SETUID and CAP_SETGID: grant them";
    return `opsd runs as root without ${missing} (a restricted container?), and ${needs}, ` +
      `or drop ${options}`;
  }
  return `refused although opsd has ${missing} (by seccomp, SELinux or AppArmor?); ` +
    `allow it, or drop ${options}`;
}

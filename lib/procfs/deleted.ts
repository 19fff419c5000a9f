/**
 * The mark the kernel appends where `/proc` names a file that has been
 * removed (fd links, `exe`, `cwd`, maps): `/srv/app.log (deleted)`. The name
 * before it is the file's last path, which another file may hold by now.
 *
 * @module
 */

/** What the kernel appends to a removed file's path in `/proc`. */
export const DELETED_MARK = " (deleted)";

/**
 * A name as `/proc` gives it, split into the path and whether the kernel
 * marked the file removed.
 *
 * @example
 * ```ts
 * splitDeleted("/srv/app.log (deleted)"); // { path: "/srv/app.log", deleted: true }
 * splitDeleted("/srv/app.log"); // { path: "/srv/app.log", deleted: false }
 * ```
 */
export function splitDeleted(name: string): { path: string; deleted: boolean } {
  const deleted = name.endsWith(DELETED_MARK);
  return { path: deleted ? name.slice(0, -DELETED_MARK.length) : name, deleted };
}

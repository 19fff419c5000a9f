/**
 * POSIX path arithmetic on strings, as `node:path` does it (opsd imports no `node:`
 * module: each one costs every command startup time).
 *
 * @module
 */

/**
 * The absolute, normalized path `paths` lead to, as `cd` into each in turn from the
 * working directory would: an absolute one starts afresh; `.`, `..`, repeated and
 * trailing slashes are resolved away (`..` at the root stays there).
 *
 * @example
 * ```ts
 * resolvePath("/srv", "web/", "../api"); // "/srv/api"
 * ```
 */
export function resolvePath(...paths: string[]): string {
  const start = paths.findLastIndex((path) => path.startsWith("/"));
  const names: string[] = [];
  for (
    const name of (start < 0 ? [Deno.cwd(), ...paths] : paths.slice(start)).join("/").split("/")
  ) {
    if (name === "..") names.pop();
    else if (name !== "" && name !== ".") names.push(name);
  }
  return `/${names.join("/")}`;
}

/**
 * The path a `file:` URL names: its pathname decoded (a space is `%20` there), as
 * `import.meta.url` and `Deno.mainModule` give it.
 */
export function filePath(url: URL | string): string {
  return decodeURIComponent(new URL(url).pathname);
}

/**
 * The directory part of `path`: everything before its last name, trailing slashes
 * ignored (`/srv/web/` → `/srv`); `.` when there is none, `/` for a name at the root.
 */
export function dirname(path: string): string {
  const trimmed = _withoutTrailingSlashes(path);
  if (trimmed === "") return path === "" ? "." : "/";
  const slash = trimmed.lastIndexOf("/");
  if (slash < 0) return ".";
  // As node:path: a leading `//` is kept (POSIX leaves its meaning to the system).
  if (slash === 1 && trimmed[0] === "/") return "//";
  return slash === 0 ? "/" : trimmed.slice(0, slash);
}

/** The last name in `path`, trailing slashes ignored (`/srv/web/` → `web`; `/` → ``). */
export function basename(path: string): string {
  const trimmed = _withoutTrailingSlashes(path);
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

function _withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path[end - 1] === "/") end--;
  return path.slice(0, end);
}

/**
 * The prefix of every path below directory `dir` (absolute, symlinks
 * resolved): `/srv/app/`; `/` for the root.
 */
export function dirPrefix(dir: string): string {
  return dir.endsWith("/") ? dir : `${dir}/`;
}

/**
 * Whether `path` (absolute, as the kernel names files) is
 * directory `dir` itself or below it: `/srv/app/log/x`, not `/srv/app-old/x`.
 */
export function isInDir(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dirPrefix(dir));
}

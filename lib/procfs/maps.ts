/**
 * `/proc/PID/maps`: the files a process has mapped, each with the device and
 * inode the kernel recorded when it was mapped. Reading it never touches the
 * files themselves (no stat, no path walk), so it is safe on a dead NFS mount.
 * The kernel writes a newline in a path as `\012` (the one character it escapes,
 * so that each mapping stays one line): paths here are as the kernel names them
 * elsewhere (`/proc/PID/fd`, readlink), with the newline.
 *
 * @module
 */

/** A mapped file's identity: its device (`[major, minor]`) and inode. */
export interface MappedFileId {
  device: [number, number];
  inode: number;
}

/**
 * The device and inode of the file mapped at `path` in `pid` (as the kernel
 * names it, ` (deleted)` included), from the first mapping of it; null when it
 * is not mapped or the maps cannot be read (gone, another user's process).
 *
 * @example
 * ```ts
 * mappedFileId(1234, Deno.readLinkSync("/proc/1234/exe")); // { device: [254, 0], inode: 260875 }
 * ```
 */
export function mappedFileId(pid: number, path: string): MappedFileId | null {
  const text = _readMaps(pid);
  return text === null ? null : parseMappedFileId(text, path);
}

/** A file a process has mapped (a library, a mapped data file), as its maps name it. */
export interface MappedFile extends MappedFileId {
  /** The path as the kernel names it, ` (deleted)` included. */
  path: string;
}

/**
 * The files `pid` has mapped, each once, in the order of its maps; [] when
 * they cannot be read (gone, another user's process). With `hints`, also []
 * when the maps' text holds none of them: a search for a few files (an inode
 * as ` 260875 `, a name) skips parsing the maps of most processes.
 */
export function readMappedFiles(pid: number, hints?: string[]): MappedFile[] {
  const text = _readMaps(pid);
  if (text === null || (hints && !hints.some((hint) => text.includes(_escapeNewlines(hint))))) {
    return [];
  }
  return parseMappedFiles(text);
}

/** The files mapped in the text of a maps file, each once (anonymous and special mappings left out). */
export function parseMappedFiles(text: string): MappedFile[] {
  const files = new Map<string, MappedFile>();
  for (const line of text.split("\n")) {
    const file = _parseMapsLine(line);
    if (!file || file.inode === 0 || !file.path.startsWith("/")) continue;
    const key = `${file.device} ${file.inode} ${file.path}`;
    if (!files.has(key)) files.set(key, file);
  }
  return [...files.values()];
}

function _readMaps(pid: number): string | null {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/maps`);
  } catch {
    return null;
  }
}

const _MAPS_LINE = /^\S+ \S+ \S+ ([0-9a-f]+):([0-9a-f]+) (\d+) +(.*)$/;

/**
 * A line of a maps file: `start-end perms offset major:minor inode`
 * (hexadecimal device numbers), then spaces and the path, which may hold
 * spaces itself (empty for an anonymous mapping); null when it is no such line.
 */
function _parseMapsLine(line: string): MappedFile | null {
  const match = _MAPS_LINE.exec(line);
  if (!match) return null;
  const device: [number, number] = [parseInt(match[1], 16), parseInt(match[2], 16)];
  return { device, inode: Number(match[3]), path: match[4].replaceAll("\\012", "\n") };
}

/** `path` as a maps file writes it (see the module doc). */
function _escapeNewlines(path: string): string {
  return path.replaceAll("\n", "\\012");
}

/** The identity of `path` in the text of a maps file (see {@linkcode parseMappedFiles}). */
export function parseMappedFileId(text: string, path: string): MappedFileId | null {
  const suffix = ` ${_escapeNewlines(path)}`;
  for (const line of text.split("\n")) {
    if (!line.endsWith(suffix)) continue;
    const file = _parseMapsLine(line);
    if (file?.path === path) return { device: file.device, inode: file.inode };
  }
  return null;
}

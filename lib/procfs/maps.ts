/**
 * `/proc/PID/maps`: the files a process has mapped, each with the device and
 * inode the kernel recorded when it was mapped. Reading it never touches the
 * files themselves (no stat, no path walk), so it is safe on a dead NFS mount.
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
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/maps`);
  } catch {
    return null;
  }
  return parseMappedFileId(text, path);
}

/**
 * The identity of `path` in the text of a maps file: lines of `start-end perms
 * offset major:minor inode` (hexadecimal device numbers), then spaces and the
 * path, which may hold spaces itself.
 */
export function parseMappedFileId(text: string, path: string): MappedFileId | null {
  const suffix = ` ${path}`;
  for (const line of text.split("\n")) {
    if (!line.endsWith(suffix)) continue;
    const match = /^\S+ \S+ \S+ ([0-9a-f]+):([0-9a-f]+) (\d+) +(.*)$/.exec(line);
    if (!match || match[4] !== path) continue;
    return { device: [parseInt(match[1], 16), parseInt(match[2], 16)], inode: Number(match[3]) };
  }
  return null;
}

/**
 * `/proc/PID/mountinfo`: the mounts a process sees, with each mount's id (the
 * `mnt_id` of fdinfo), device numbers and filesystem type.
 *
 * @module
 */

import { isProcessGone } from "./gone.ts";
import { isInDir } from "../path.ts";

/** One mount. */
export interface Mount {
  id: number;
  /** The device as `major:minor`. */
  device: string;
  /** The directory of the filesystem mounted there: `/`, or a bind mount's subdirectory. */
  root: string;
  /** The mount point, as the process sees it. */
  mountPoint: string;
  /** The filesystem type, such as `ext4`, `nfs4`, `fuse.sshfs`. */
  fsType: string;
  /** What is mounted: a device, `server:/export`, or a name. */
  source: string;
}

/** Parses the text of a mountinfo file. */
export function parseMountInfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    // id parent major:minor root mount-point options [optional fields...] - type source super-options
    const fields = line.split(" ");
    const dash = fields.indexOf("-", 6);
    if (fields.length < 10 || dash < 0) continue;
    mounts.push({
      id: Number(fields[0]),
      device: fields[2],
      root: _unescape(fields[3]),
      mountPoint: _unescape(fields[4]),
      fsType: fields[dash + 1],
      source: _unescape(fields[dash + 2]),
    });
  }
  return mounts;
}

/** Mount fields escape space, tab, newline and backslash as `\ooo`. */
function _unescape(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(parseInt(octal, 8)));
}

/** The mounts `pid` sees, or null when the process is gone. */
export function readMountInfo(pid: number | "self"): Mount[] | null {
  try {
    return parseMountInfo(Deno.readTextFileSync(`/proc/${pid}/mountinfo`));
  } catch (error) {
    if (isProcessGone(error)) return null;
    throw error;
  }
}

/** The mount holding `path` among `mounts`: the one with the longest matching mount point. */
export function mountOfPath(mounts: Mount[], path: string): Mount | undefined {
  let best: Mount | undefined;
  for (const mount of mounts) {
    const point = mount.mountPoint;
    if (isInDir(path, point) && (!best || point.length >= best.mountPoint.length)) best = mount;
  }
  return best;
}

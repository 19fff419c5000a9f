/**
 * A `--path` naming a mount point names its whole filesystem, as in lsof ("a
 * name that is the mounted-on directory of a file system: all the files open
 * on it"): the question behind `umount: target is busy`. An fd, cwd, root
 * directory or program is on it when its device is the filesystem's; a device
 * file (whose row shows its own device, as lsof's does) or a file not stat'ed
 * (on a network filesystem) when the mount holding its name, in its process's
 * mount namespace, is of that filesystem (its device); a mapped file when its
 * maps device is the filesystem's.
 *
 * @module
 */

import { type Mount, readMountInfo } from "../procfs/mountinfo.ts";
import { splitDeleted } from "../procfs/deleted.ts";
import { isNetworkFs, type MountLookup } from "./mounts.ts";
import type { NamedFile } from "./paths.ts";
import type { FdRow } from "./row.ts";

/** A filesystem named by its mount point. */
export interface NamedFilesystem {
  /** The mount point, symlinks resolved (`/dev/shm`). */
  mountPoint: string;
  /**
   * The mount's device as mountinfo writes it (`0:27`): the filesystem, whichever
   * mount namespace a process sees it in (a copied namespace gives its mounts new ids).
   */
  mountDevice: string;
  /** Its device as rows show it (`0,27`): the mount point's own, from its statx. */
  device: string;
  /** A network or FUSE filesystem: nothing on it is stat'ed. */
  network: boolean;
}

/**
 * The filesystems among `paths` (symlinks resolved; what each names in `named`):
 * the directories where a whole filesystem is mounted in opsd's mount namespace.
 * A bind mount of a subdirectory names that directory alone (lsof, matching by
 * device, would list every file of the filesystem it comes from). Reads opsd's
 * mountinfo only when a path names a directory.
 */
export function namedFilesystems(paths: string[], named: NamedFile[]): NamedFilesystem[] {
  const directories = named.flatMap((file, i) =>
    file !== null && file !== "missing" && file.type === "DIR" ? [{ path: paths[i], file }] : []
  );
  if (directories.length === 0) return [];
  const mounts = readMountInfo("self") ?? [];
  return directories.flatMap(({ path, file }) => {
    const mount = _mountAt(mounts, path);
    if (mount === undefined || mount.root !== "/") return [];
    return [{
      mountPoint: mount.mountPoint,
      mountDevice: mount.device,
      device: file.device,
      network: isNetworkFs(mount.fsType),
    }];
  });
}

/** Which rows and mappings are on the filesystems a query names. */
export class FilesystemMatch {
  #filesystems: NamedFilesystem[];
  #mounts: MountLookup;

  /** `mounts`: each process's mounts, as the rows are built with (read once per namespace). */
  constructor(filesystems: NamedFilesystem[], mounts: MountLookup) {
    this.#filesystems = filesystems;
    this.#mounts = mounts;
  }

  /** Whether the query names any filesystem. */
  get any(): boolean {
    return this.#filesystems.length > 0;
  }

  /**
   * Whether the file of `row` (an fd, cwd, rtd or txt row, its NAME a path) is
   * on one of the filesystems: by device, or, for a device file or a file not
   * stat'ed, by the device of the mount holding its name where its process sees it
   * (another namespace's own mount at the same path is another filesystem; a copy
   * of opsd's is the same one).
   */
  holds(row: FdRow): boolean {
    if (!this.any || !row.name.startsWith("/")) return false;
    if (/^\d+,\d+$/.test(row.device) && row.type !== "CHR" && row.type !== "BLK") {
      return this.#filesystems.some((fs) => fs.device === row.device);
    }
    // A socket no process is seen holding is named as opsd sees the file system.
    const mount = this.#mounts.forPath(row.pid ?? Deno.pid, splitDeleted(row.name).path);
    return this.#filesystems.some((fs) => fs.mountDevice === mount?.device);
  }

  /** The filesystem a mapping on `device` (`254,0`, from maps) is on, if one named. */
  mapped(device: string): NamedFilesystem | undefined {
    return this.#filesystems.find((fs) => fs.device === device);
  }

  /** What a maps file holding a mapping on one of the filesystems contains (` fe:00 `). */
  mapHints(): string[] {
    return this.#filesystems.map((fs) => {
      const [major, minor] = fs.device.split(",").map((n) => Number(n).toString(16));
      return ` ${major.padStart(2, "0")}:${minor.padStart(2, "0")} `;
    });
  }
}

/** The mount whose mount point is `path` (the last, uppermost, of mounts stacked there). */
function _mountAt(mounts: Mount[], path: string): Mount | undefined {
  return mounts.findLast((mount) => mount.mountPoint === path);
}

/**
 * Which mount an open file is on, and whether opsd may stat it. Files on
 * network and FUSE filesystems are never stat'ed: a dead server or daemon would
 * hang the call (lsof's classic hang on a dead NFS mount), even with
 * `AT_STATX_DONT_SYNC`, because following the `/proc` link revalidates the dentry.
 *
 * @module
 */

import { type Mount, mountOfPath, readMountInfo } from "../procfs/mountinfo.ts";
import { namespaceOf } from "../procfs/namespaces.ts";

const _NETWORK_FS = new Set([
  "nfs",
  "nfs4",
  "cifs",
  "smb3",
  "smbfs",
  "9p",
  "ceph",
  "glusterfs",
  "lustre",
  "afs",
  "ncpfs",
  "davfs",
  "gfs2",
  "ocfs2",
  "virtiofs",
]);

/** Whether files on a filesystem of this type must not be stat'ed (network, cluster, FUSE). */
export function isNetworkFs(fsType: string): boolean {
  return _NETWORK_FS.has(fsType) || fsType === "fuse" || fsType.startsWith("fuse.") ||
    fsType === "fuseblk";
}

/** Mounts by id and by mount namespace, read lazily and once. */
export class MountIndex {
  #byId = new Map<number, Mount>();
  #byNamespace = new Map<string, Mount[]>();
  #loadedFor = new Set<number | "self">();

  /** The mount with fdinfo's `mnt_id`, read from `pid`'s mountinfo if this index has not seen it. */
  byId(mntId: number, pid: number): Mount | undefined {
    if (!this.#byId.has(mntId)) this.#load("self");
    if (!this.#byId.has(mntId)) this.#load(pid);
    return this.#byId.get(mntId);
  }

  /** The mount holding `path` as `pid` sees it (for cwd, root and executable, which have no fdinfo). */
  forPath(pid: number, path: string): Mount | undefined {
    const namespace = namespaceOf(pid, "mnt") ?? `pid ${pid}`;
    let mounts = this.#byNamespace.get(namespace);
    if (!mounts) {
      mounts = readMountInfo(pid) ?? [];
      this.#byNamespace.set(namespace, mounts);
    }
    return mountOfPath(mounts, path);
  }

  #load(pid: number | "self"): void {
    if (this.#loadedFor.has(pid)) return;
    this.#loadedFor.add(pid);
    for (const mount of readMountInfo(pid) ?? []) this.#byId.set(mount.id, mount);
  }
}

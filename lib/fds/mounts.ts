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

/** How describing finds the mount of a file. */
export interface MountLookup {
  /** The mount with fdinfo's `mnt_id`, as `pid` sees it. */
  byId(mntId: number, pid: number): Mount | undefined;
  /** The mount holding `path` as `pid` sees it. */
  forPath(pid: number, path: string): Mount | undefined;
}

/** Mounts by id and by mount namespace, each namespace's mountinfo read once. */
export class MountIndex implements MountLookup {
  #byId = new Map<number, Mount>();
  #byNamespace = new Map<string, Mount[]>();
  #namespaces = new Map<number, string>();

  /** The mount with fdinfo's `mnt_id` (ids are unique across namespaces), as `pid` sees it. */
  byId(mntId: number, pid: number): Mount | undefined {
    if (!this.#byId.has(mntId)) this.#mounts(pid);
    return this.#byId.get(mntId);
  }

  /** The mount holding `path` as `pid` sees it (for cwd, root and executable, which have no fdinfo). */
  forPath(pid: number, path: string): Mount | undefined {
    return mountOfPath(this.#mounts(pid), path);
  }

  /** The mounts of `pid`'s mount namespace, read on first need. */
  #mounts(pid: number): Mount[] {
    let namespace = this.#namespaces.get(pid);
    if (namespace === undefined) {
      namespace = namespaceOf(pid, "mnt") ?? `pid ${pid}`;
      this.#namespaces.set(pid, namespace);
    }
    let mounts = this.#byNamespace.get(namespace);
    if (!mounts) {
      mounts = readMountInfo(pid) ?? [];
      this.#byNamespace.set(namespace, mounts);
      for (const mount of mounts) this.#byId.set(mount.id, mount);
    }
    return mounts;
  }
}

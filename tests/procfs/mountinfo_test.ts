import assert from "node:assert/strict";
import { mountOfPath, parseMountInfo, readMountInfo } from "../../lib/procfs/mountinfo.ts";

const SAMPLE = "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n" +
  "30 22 0:40 / /mnt/nfs rw master:2 - nfs4 server:/export rw,vers=4.2\n" +
  "31 22 0:41 / /mnt/my\\040disk rw - fuse.sshfs me@host:/ rw\n" +
  "32 22 254:0 /srv/data /mnt/bound rw - ext4 /dev/vda rw\n";

Deno.test("parseMountInfo reads id, device, root (a bind mount's directory), mount point (unescaped), type and source", () => {
  assert.deepEqual(parseMountInfo(SAMPLE), [
    { id: 22, device: "254:0", root: "/", mountPoint: "/", fsType: "ext4", source: "/dev/vda" },
    {
      id: 30,
      device: "0:40",
      root: "/",
      mountPoint: "/mnt/nfs",
      fsType: "nfs4",
      source: "server:/export",
    },
    {
      id: 31,
      device: "0:41",
      root: "/",
      mountPoint: "/mnt/my disk",
      fsType: "fuse.sshfs",
      source: "me@host:/",
    },
    {
      id: 32,
      device: "254:0",
      root: "/srv/data",
      mountPoint: "/mnt/bound",
      fsType: "ext4",
      source: "/dev/vda",
    },
  ]);
});

Deno.test("mountOfPath picks the longest mount point containing the path", () => {
  const mounts = parseMountInfo(SAMPLE);
  assert.equal(mountOfPath(mounts, "/mnt/nfs/a/b")?.id, 30);
  assert.equal(mountOfPath(mounts, "/mnt/nfsother")?.id, 22);
  assert.equal(mountOfPath(mounts, "/mnt/my disk")?.id, 31);
});

Deno.test("readMountInfo reads this process's mounts and returns null for a gone process", () => {
  assert.ok(readMountInfo("self")!.some((m) => m.mountPoint === "/"));
  assert.equal(readMountInfo(2 ** 22 + 12345), null);
});

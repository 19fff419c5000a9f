import assert from "node:assert/strict";
import { FilesystemMatch, namedFilesystems } from "../../lib/fds/filesystems.ts";
import { namedFile } from "../../lib/fds/paths.ts";
import type { FdRow } from "../../lib/fds/row.ts";
import type { MountLookup } from "../../lib/fds/mounts.ts";
import { type Mount, readMountInfo } from "../../lib/procfs/mountinfo.ts";
import { tempDir } from "../fixtures/mod.ts";

const ROOT = namedFile("/");
const ROOT_DEVICE = ROOT !== null && ROOT !== "missing" ? ROOT.device : "";
const ROOT_MOUNT = readMountInfo("self")!.findLast((mount) => mount.mountPoint === "/")!.device;

/** A row with the fields FilesystemMatch looks at, of process `pid`. */
function row(type: string, device: string, name: string, pid = 100): FdRow {
  return { type, device, name, pid } as FdRow;
}

/**
 * Mounts as processes see them: pid 200's namespace has its own /dev (a tmpfs, mount 8),
 * pid 300's is a copy of opsd's (the same devtmpfs, under a new id 9), others mount 5.
 */
function mount(id: number, mountPoint: string, device = "0:5"): Mount {
  return { id, device, root: "/", mountPoint, fsType: "devtmpfs", source: "udev" };
}
const MOUNTS: MountLookup = {
  byId: () => undefined,
  forPath: (pid, path) =>
    !path.startsWith("/dev/")
      ? mount(1, "/", "254:0")
      : pid === 200
      ? mount(8, "/dev", "0:99")
      : mount(pid === 300 ? 9 : 5, "/dev"),
};

Deno.test("namedFilesystems: a mount point names its filesystem; a directory or file in it does not", async () => {
  await using dir = await tempDir();
  const paths = ["/", dir.path, "/etc/hosts", `${dir.path}/none`];
  assert.deepEqual(namedFilesystems(paths, paths.map(namedFile)), [
    { mountPoint: "/", mountDevice: ROOT_MOUNT, device: ROOT_DEVICE, network: false },
  ]);
  assert.deepEqual(namedFilesystems([dir.path], [namedFile(dir.path)]), []);
});

Deno.test("FilesystemMatch holds a file by its device, a device file by the mount holding its name", () => {
  const root = new FilesystemMatch([
    { mountPoint: "/", mountDevice: "254:0", device: ROOT_DEVICE, network: false },
  ], MOUNTS);
  assert.ok(root.holds(row("REG", ROOT_DEVICE, "/usr/bin/sleep")));
  assert.ok(root.holds(row("REG", ROOT_DEVICE, "/tmp/x (deleted)")));
  assert.ok(!root.holds(row("REG", "0,999", "/usr/bin/sleep")), "another filesystem's file");
  assert.ok(!root.holds(row("FIFO", "0,15", "pipe")), "no path");
  const dev = new FilesystemMatch([
    { mountPoint: "/dev", mountDevice: "0:5", device: "0,5", network: false },
  ], MOUNTS);
  // /dev/null's row shows its own device (1,3), as lsof's does: it is on /dev by its name.
  assert.ok(dev.holds(row("CHR", "1,3", "/dev/null")));
  assert.ok(!dev.holds(row("CHR", "1,3", "/elsewhere/null")));
  // In another mount namespace, /dev is another mount: the same name is another file system.
  assert.ok(!dev.holds(row("CHR", "1,3", "/dev/null", 200)));
  // A copy of opsd's namespace (unshare -m) has the same file system under new mount ids.
  assert.ok(dev.holds(row("CHR", "1,3", "/dev/null", 300)));
  assert.ok(!new FilesystemMatch([], MOUNTS).holds(row("REG", ROOT_DEVICE, "/usr/bin/sleep")));
});

Deno.test("FilesystemMatch finds mappings by their maps device, hinted as maps writes it", () => {
  const match = new FilesystemMatch([
    { mountPoint: "/", mountDevice: "254:0", device: "254,0", network: false },
  ], MOUNTS);
  assert.deepEqual(match.mapHints(), [" fe:00 "]);
  assert.equal(match.mapped("254,0")?.mountPoint, "/");
  assert.equal(match.mapped("0,27"), undefined);
});

import assert from "node:assert/strict";
import {
  fileId,
  fileType,
  isSocketFile,
  kernelPath,
  mayBeMapped,
  namedFile,
} from "../../lib/fds/paths.ts";
import { STATX, statxAt } from "../../lib/sys/libc.ts";
import { tempDir } from "../fixtures/mod.ts";

Deno.test("namedFile tells a file's identity and whether it is a unix socket file, following symlinks", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/f.txt`, socket = `${dir.path}/s.sock`;
  Deno.writeTextFileSync(file, "12345");
  using _listener = Deno.listen({ transport: "unix", path: socket });
  Deno.symlinkSync(socket, `${dir.path}/to-socket`);
  Deno.symlinkSync(file, `${dir.path}/to-file`);
  // Major and minor, as rows show a device (and as coreutils' stat prints them).
  const stat = new Deno.Command("stat", { args: ["-c", "%Hd,%Ld", file] }).outputSync();
  const device = new TextDecoder().decode(stat.stdout).trim();
  const ino = Deno.statSync(file).ino;
  const mapDevice = device; // a regular file is mapped on its own filesystem's device
  assert.deepEqual(namedFile(file), {
    device,
    ino,
    size: 5,
    type: "REG",
    mapDevice,
  });
  assert.deepEqual(namedFile(`${dir.path}/to-file`), namedFile(file));
  const named = namedFile(socket);
  assert.ok(named !== null && named !== "missing" && named.type === "sock");
  assert.equal(named.ino, Deno.statSync(socket).ino);
  assert.deepEqual(namedFile(`${dir.path}/to-socket`), named);
  // A device file is known by its own device (rdev), as rows show it; maps show its filesystem's.
  const devfs = new Deno.Command("stat", { args: ["-c", "%Hd,%Ld", "/dev/null"] }).outputSync();
  assert.deepEqual(namedFile("/dev/null"), {
    device: "1,3",
    ino: Deno.statSync("/dev/null").ino,
    size: 0,
    type: "CHR",
    mapDevice: new TextDecoder().decode(devfs.stdout).trim(),
  });
  assert.equal(namedFile(`${dir.path}/none`), "missing");
  assert.equal(namedFile(`${file}/below`), "missing"); // ENOTDIR
  Deno.symlinkSync(`${dir.path}/none`, `${dir.path}/dangling`);
  assert.equal(namedFile(`${dir.path}/dangling`), "missing");
  assert.deepEqual(
    [namedFile(file), named, "missing" as const, null].map(isSocketFile),
    [false, true, false, false],
  );
  // What can be mapped: regular and device files, and what is not known (a removed file may be).
  const directory = namedFile(dir.path);
  assert.ok(directory !== null && directory !== "missing");
  assert.deepEqual([directory.type, directory.mapDevice], ["DIR", null]);
  const fifo = `${dir.path}/fifo`;
  new Deno.Command("mkfifo", { args: [fifo] }).outputSync();
  assert.deepEqual(
    [file, "/dev/null", `${dir.path}/none`, socket, dir.path, fifo].map((path) =>
      mayBeMapped(namedFile(path))
    ),
    [true, true, true, false, false, false],
  );
  assert.ok(mayBeMapped(null));
});

Deno.test("fileId shows a device file's own device (rdev) and any other file's filesystem's", () => {
  const devNull = fileId(statxAt(-100, "/dev/null", STATX.DONT_SYNC));
  assert.deepEqual([devNull.type, devNull.device], ["CHR", "1,3"]);
  const self = statxAt(-100, Deno.execPath(), STATX.DONT_SYNC);
  assert.deepEqual(fileId(self), {
    device: self.dev.join(","),
    ino: self.ino,
    size: self.size,
    type: "REG",
    mapDevice: self.dev.join(","),
  });
});

Deno.test("fileType names a mode's file type as lsof's TYPE column does", () => {
  assert.deepEqual(
    [0o100644, 0o040755, 0o020666, 0o060660, 0o010600, 0o140777, 0o120777, 0].map(fileType),
    ["REG", "DIR", "CHR", "BLK", "FIFO", "sock", "LINK", "a_inode"],
  );
  assert.equal(fileType(0o150000), "0015"); // no type lsof knows: its number
});

Deno.test("kernelPath names a file as fd links do: symlinks resolved while it exists, else . and .. only", async () => {
  await using dir = await tempDir();
  const real = Deno.realPathSync(dir.path);
  Deno.writeTextFileSync(`${dir.path}/file`, "");
  Deno.symlinkSync(`${dir.path}/file`, `${dir.path}/link`);
  assert.equal(kernelPath(`${dir.path}/link`), `${real}/file`);
  assert.equal(kernelPath(`${dir.path}/sub/../gone`), `${dir.path}/gone`);
});

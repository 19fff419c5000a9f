import assert from "node:assert/strict";
import { isSocketFile, namedFile, socketFiles } from "../../lib/fds/paths.ts";
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
  assert.deepEqual(namedFile(file), { device, ino, size: 5, socket: false });
  assert.deepEqual(namedFile(`${dir.path}/to-file`), namedFile(file));
  const named = namedFile(socket);
  assert.ok(named !== null && named !== "missing" && named.socket);
  assert.equal(named.ino, Deno.statSync(socket).ino);
  assert.deepEqual(namedFile(`${dir.path}/to-socket`), named);
  // A device file is known by its own device (rdev), as rows show it.
  assert.deepEqual(namedFile("/dev/null"), {
    device: "1,3",
    ino: Deno.statSync("/dev/null").ino,
    size: 0,
    socket: false,
  });
  assert.equal(namedFile(`${dir.path}/none`), "missing");
  assert.equal(namedFile(`${file}/below`), "missing"); // ENOTDIR
  Deno.symlinkSync(`${dir.path}/none`, `${dir.path}/dangling`);
  assert.equal(namedFile(`${dir.path}/dangling`), "missing");
  assert.deepEqual(
    [namedFile(file), named, "missing" as const, null].map(isSocketFile),
    [false, true, false, false],
  );
  const paths = [file, socket, `${dir.path}/to-socket`, `${dir.path}/none`, dir.path];
  assert.deepEqual(socketFiles(paths), [socket, `${dir.path}/to-socket`]);
});

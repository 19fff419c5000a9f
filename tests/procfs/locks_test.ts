import assert from "node:assert/strict";
import { flockHolder, parseLockLine } from "../../lib/procfs/locks.ts";
import { LOCK, O } from "../../lib/sys/constants.ts";
import { close, flock, open } from "../../lib/sys/libc.ts";
import { tempDir } from "../fixtures/mod.ts";

Deno.test("parseLockLine reads a /proc/locks line; a waiter's line is none", () => {
  assert.deepEqual(parseLockLine("1: FLOCK  ADVISORY  WRITE 812 fe:01:2147585 0 EOF"), {
    kind: "FLOCK",
    access: "WRITE",
    pid: 812,
    major: 0xfe,
    minor: 1,
    inode: 2147585,
    start: 0,
    end: null,
  });
  assert.equal(parseLockLine("2: POSIX  ADVISORY  READ 9 08:02:77 10 19")?.end, 19);
  assert.equal(parseLockLine("1: -> FLOCK  ADVISORY  WRITE 813 fe:01:2147585 0 EOF"), null);
  assert.equal(parseLockLine(""), null);
});

Deno.test("flockHolder names the process holding a flock on a file, and none when free", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/lock`;
  const fd = open(path, O.RDWR | O.CREAT | O.CLOEXEC, 0o600);
  try {
    assert.equal(flockHolder(path), null);
    assert.ok(flock(fd, LOCK.EX | LOCK.NB));
    assert.equal(flockHolder(path), Deno.pid);
  } finally {
    close(fd);
  }
  assert.equal(flockHolder(path), null, "released with its fd");
  assert.equal(flockHolder(`${dir.path}/missing`), null);
});

import assert from "node:assert/strict";
import { O_CLOEXEC, parseFdInfo, readFdInfo } from "../../lib/procfs/fdinfo.ts";
import { close, flock, open, setLock } from "../../lib/sys/libc.ts";
import { LOCK, O } from "../../lib/sys/constants.ts";
import { tempDir } from "../fixtures/mod.ts";

Deno.test("parseFdInfo reads offset, flags, mount, inode, locks and epoll/eventfd lines", () => {
  const info = parseFdInfo(
    "pos:\t12\nflags:\t02100002\nmnt_id:\t27\nino:\t2146486\n" +
      "lock:\t1: POSIX  ADVISORY  WRITE 5180 fe:00:2146486 0 EOF\n" +
      "lock:\t2: OFDLCK ADVISORY  READ  -1 fe:00:2146486 10 29\n" +
      "tfd:        4 events:       19 data:                4  pos:0 ino:40f sdev:f\n" +
      "eventfd-count:    0\neventfd-id: 7\n",
  );
  assert.equal(info.pos, 12);
  assert.equal(info.flags & 3, 2);
  assert.ok(info.flags & O_CLOEXEC);
  assert.equal(info.mntId, 27);
  assert.equal(info.ino, 2146486);
  const file = { major: 0xfe, minor: 0, inode: 2146486 };
  assert.deepEqual(info.locks, [
    { kind: "POSIX", access: "WRITE", pid: 5180, ...file, start: 0, end: null },
    { kind: "OFDLCK", access: "READ", pid: -1, ...file, start: 10, end: 29 },
  ]);
  assert.deepEqual(info.watchedFds, [4]);
  assert.equal(info.eventfdId, 7);
  assert.equal(info.pidfdPid, null);
});

Deno.test("readFdInfo shows this process's own locks and close-on-exec, null for a closed fd", async () => {
  await using dir = await tempDir();
  const fd = open(`${dir.path}/lock`, O.RDWR | O.CREAT | O.CLOEXEC);
  try {
    assert.ok(flock(fd, LOCK.EX | LOCK.NB));
    assert.ok(setLock(fd, "ofd", "read", { start: 0, length: 5 }));
    const info = readFdInfo(Deno.pid, fd)!;
    assert.ok(info.flags & O_CLOEXEC);
    assert.deepEqual(info.locks.map((l) => l.kind).sort(), ["FLOCK", "OFDLCK"]);
  } finally {
    close(fd);
  }
  assert.equal(readFdInfo(Deno.pid, fd), null);
});

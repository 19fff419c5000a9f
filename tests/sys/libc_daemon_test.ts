import assert from "node:assert/strict";
import {
  close,
  getLock,
  isErrno,
  open,
  pidfdOpen,
  pidfdSendSignal,
  pread,
  pwrite,
  read,
  setLock,
} from "../../lib/sys/libc.ts";
import { O } from "../../lib/sys/constants.ts";
import { tempDir } from "../fixtures/mod.ts";
import { sanitizedTest } from "../fixtures/sanitized.ts";

// The libc calls the daemon code added: positional I/O, lock queries over a range, pidfds.

sanitizedTest("pread and pwrite leave the file offset where it was", async () => {
  await using dir = await tempDir();
  const fd = open(`${dir.path}/f`, O.RDWR | O.CREAT | O.CLOEXEC);
  try {
    assert.equal(pwrite(fd, new TextEncoder().encode("4242\n"), 0), 5);
    const buffer = new Uint8Array(16);
    assert.equal(new TextDecoder().decode(buffer.subarray(0, pread(fd, buffer, 2))), "42\n");
    assert.equal(read(fd, buffer), 5, "a plain read still starts at offset 0");
  } finally {
    close(fd);
  }
});

sanitizedTest("getLock over a range sees only the locks that overlap it", async () => {
  await using dir = await tempDir();
  const holder = open(`${dir.path}/f`, O.RDWR | O.CREAT | O.CLOEXEC);
  const asker = open(`${dir.path}/f`, O.RDONLY | O.CLOEXEC);
  try {
    assert.ok(setLock(holder, "ofd", "write", { start: 100, length: 1 }));
    assert.equal(getLock(asker, "ofd", "write", { start: 0, length: 1 }), null);
    assert.deepEqual(getLock(asker, "ofd", "write", { start: 50, length: 0 }), {
      type: "write",
      start: 100,
      length: 1,
      pid: -1,
    });
  } finally {
    close(holder);
    close(asker);
  }
});

sanitizedTest(
  "a pidfd signals its process, and only it: ESRCH once that process is gone",
  async () => {
    const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
    const pidfd = pidfdOpen(child.pid);
    try {
      pidfdSendSignal(pidfd, 0);
      pidfdSendSignal(pidfd, 15);
      assert.equal((await child.status).signal, "SIGTERM");
      assert.throws(() => pidfdSendSignal(pidfd, 15), (e: unknown) => isErrno(e, "ESRCH"));
    } finally {
      close(pidfd);
    }
    assert.throws(() => pidfdOpen(2 ** 22 + 1), (e: unknown) => isErrno(e, "ESRCH", "EINVAL"));
  },
);

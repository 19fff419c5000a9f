import assert from "node:assert/strict";
import {
  close,
  errnoText,
  getxattrText,
  lastErrno,
  open,
  rawCalls,
  socket,
  STATX,
  statxAt,
} from "../../lib/sys/libc.ts";
import { O, SOCK } from "../../lib/sys/constants.ts";
import { SysError } from "../../lib/sys/errno.ts";

Deno.test("statxAt through a /proc fd link describes the open file: type, size, device", () => {
  const fd = open("/dev/null", O.RDONLY | O.CLOEXEC);
  try {
    const stat = statxAt(-100, `/proc/self/fd/${fd}`, STATX.DONT_SYNC);
    assert.equal(stat.mode & 0o170000, 0o020000); // a character device
    assert.deepEqual(stat.rdev, [1, 3]);
  } finally {
    close(fd);
  }
  assert.throws(
    () => statxAt(-100, "/nonexistent/x", 0),
    (e: unknown) =>
      e instanceof SysError && e.code === "ENOENT" && /statx \/nonexistent/.test(e.message),
  );
});

Deno.test("getxattrText names a socket's protocol, null where there is no such attribute", () => {
  const fd = socket(16, /* AF_NETLINK */ SOCK.DGRAM | SOCK.CLOEXEC, 0);
  try {
    assert.equal(getxattrText(`/proc/self/fd/${fd}`, "system.sockprotoname"), "NETLINK");
  } finally {
    close(fd);
  }
  assert.equal(getxattrText("/proc/self/stat", "system.sockprotoname"), null);
});

Deno.test("lastErrno and errnoText report why a raw call failed", () => {
  const result = rawCalls().openat(-100, new TextEncoder().encode("/nonexistent\0"), 0, 0);
  assert.equal(result, -1);
  assert.equal(lastErrno(), 2);
  assert.equal(errnoText(13), "Permission denied");
});

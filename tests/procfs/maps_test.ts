import assert from "node:assert/strict";
import {
  mappedFileId,
  parseMappedFileId,
  parseMappedFiles,
  readMappedFiles,
} from "../../lib/procfs/maps.ts";
import { STATX, statxAt } from "../../lib/sys/libc.ts";

Deno.test("parseMappedFileId reads the device and inode of a mapped path, spaces and (deleted) included", () => {
  const text = [
    "55c2c996a000-55c2c996c000 r--p 00000000 fe:00 260875                     /usr/bin/sleep",
    "7f0000000000-7f0000001000 r-xp 00001000 103:0a 42                        /opt/my app/bin",
    "7f0000002000-7f0000003000 r-xp 00000000 00:2d 77                         /srv/x (deleted)",
    "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]",
    "",
  ].join("\n");
  assert.deepEqual(parseMappedFileId(text, "/usr/bin/sleep"), { device: [254, 0], inode: 260875 });
  assert.deepEqual(parseMappedFileId(text, "/opt/my app/bin"), { device: [259, 10], inode: 42 });
  assert.deepEqual(parseMappedFileId(text, "/srv/x (deleted)"), { device: [0, 45], inode: 77 });
  assert.equal(parseMappedFileId(text, "/srv/x"), null);
  assert.equal(parseMappedFileId(text, "app/bin"), null);
});

Deno.test("mappedFileId: this process's program, as statx sees it; null for a process that is gone", () => {
  const exe = Deno.readLinkSync("/proc/self/exe");
  const stat = statxAt(-100, exe, STATX.DONT_SYNC);
  assert.deepEqual(mappedFileId(Deno.pid, exe), { device: stat.dev, inode: stat.ino });
  assert.equal(mappedFileId(2 ** 22 + 12345, exe), null);
});

Deno.test("parseMappedFiles lists each mapped file once, in order, without anonymous or special mappings", () => {
  const text = [
    "55c2c996a000-55c2c996c000 r--p 00000000 fe:00 260875                     /usr/bin/sleep",
    "55c2c996c000-55c2c996d000 r-xp 00002000 fe:00 260875                     /usr/bin/sleep",
    "7f0000000000-7f0000001000 r-xp 00001000 103:0a 42                        /opt/my app/lib.so",
    "7f0000002000-7f0000003000 rw-s 00000000 00:01 77                         /memfd:x (deleted)",
    "7f0000004000-7f0000005000 rw-p 00000000 00:00 0                          ",
    "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]",
    "",
  ].join("\n");
  assert.deepEqual(parseMappedFiles(text), [
    { device: [254, 0], inode: 260875, path: "/usr/bin/sleep" },
    { device: [259, 10], inode: 42, path: "/opt/my app/lib.so" },
    { device: [0, 1], inode: 77, path: "/memfd:x (deleted)" }, // a file too: lsof's DEL
  ]);
  assert.deepEqual(readMappedFiles(2 ** 22 + 12345), []);
});

Deno.test("readMappedFiles with hints: this process's files when its maps hold one, else none", () => {
  const exe = Deno.execPath();
  const { ino } = Deno.statSync(exe);
  const all = readMappedFiles(Deno.pid);
  assert.ok(all.some((file) => file.inode === ino), JSON.stringify(all));
  assert.deepEqual(readMappedFiles(Deno.pid, [` ${ino} `]), all);
  assert.deepEqual(readMappedFiles(Deno.pid, ["/no/such/file (deleted)"]), []);
  assert.deepEqual(readMappedFiles(Deno.pid, []), []);
});

Deno.test("a newline in a mapped path, which maps writes as \\012, is read back as a newline, and found so", () => {
  const text = [
    "7f0000000000-7f0000001000 r--s 00000000 fe:00 99                         /srv/a\\012b/data",
    "",
  ].join("\n");
  assert.deepEqual(parseMappedFiles(text), [
    { device: [254, 0], inode: 99, path: "/srv/a\nb/data" },
  ]);
  assert.deepEqual(parseMappedFileId(text, "/srv/a\nb/data"), { device: [254, 0], inode: 99 });
});

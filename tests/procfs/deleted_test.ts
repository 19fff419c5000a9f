import assert from "node:assert/strict";
import { close, open } from "../../lib/sys/libc.ts";
import { O } from "../../lib/sys/constants.ts";
import { DELETED_MARK, splitDeleted } from "../../lib/procfs/deleted.ts";

Deno.test("splitDeleted takes the kernel's (deleted) mark off a name, and only at its end", () => {
  assert.deepEqual(splitDeleted("/srv/app.log (deleted)"), { path: "/srv/app.log", deleted: true });
  assert.deepEqual(splitDeleted("/srv/app.log"), { path: "/srv/app.log", deleted: false });
  assert.deepEqual(splitDeleted("/srv/x (deleted) y"), {
    path: "/srv/x (deleted) y",
    deleted: false,
  });
  assert.deepEqual(splitDeleted(`/srv/x${DELETED_MARK}${DELETED_MARK}`), {
    path: `/srv/x${DELETED_MARK}`,
    deleted: true,
  });
});

Deno.test("a removed file's fd link ends with DELETED_MARK", async () => {
  const path = await Deno.makeTempFile();
  const fd = open(path, O.RDONLY | O.CLOEXEC);
  try {
    await Deno.remove(path);
    assert.deepEqual(splitDeleted(Deno.readLinkSync(`/proc/self/fd/${fd}`)), {
      path,
      deleted: true,
    });
  } finally {
    close(fd);
  }
});

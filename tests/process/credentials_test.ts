import assert from "node:assert/strict";
import { resolveCredentials } from "../../lib/process/credentials.ts";
import { ExitCode, OpsdError } from "../../lib/errors.ts";

Deno.test("resolveCredentials refuses a uid or gid beyond the kernel's range (2), one the FFI could not even pass", () => {
  const outOfRange = (message: string) => (error: unknown) =>
    error instanceof OpsdError && error.exitCode === ExitCode.usage && error.message === message;
  const range = "ids go from 0 to 4294967294";
  for (const id of ["4294967295", "4294967296", "99999999999999999999"]) {
    assert.throws(() => resolveCredentials(id), outOfRange(`uid ${id} is out of range: ${range}`));
    assert.throws(
      () => resolveCredentials("nobody", id),
      outOfRange(`gid ${id} is out of range: ${range}`),
    );
  }
  assert.throws(
    () => resolveCredentials("4294967296", undefined, { user: "/srv/web/opsd.conf:3: user" }),
    outOfRange(`/srv/web/opsd.conf:3: user: uid 4294967296 is out of range: ${range}`),
  );
  // The highest id is one (with no account: its own number as gid, and no other group).
  const highest = resolveCredentials("4294967294");
  assert.deepEqual([highest.uid, highest.gid, highest.groups], [
    4294967294,
    4294967294,
    [4294967294],
  ]);
});

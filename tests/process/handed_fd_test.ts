import assert from "node:assert/strict";
import { fdOrigin, requireHandedFd } from "../../lib/process/handed_fd.ts";
import { close, open, pipe2 } from "../../lib/sys/libc.ts";
import { O } from "../../lib/sys/constants.ts";
import { runOpsd } from "../fixtures/mod.ts";

Deno.test("fdOrigin: an fd without close-on-exec was handed over; one with it is opsd's own", () => {
  const [reader, writer] = pipe2(0);
  const own = open("/dev/null", O.RDONLY | O.CLOEXEC);
  try {
    assert.deepEqual([fdOrigin(writer), fdOrigin(own), fdOrigin(9999)], [
      "handed",
      "own",
      "closed",
    ]);
    requireHandedFd(writer, "--status-fd", "the exec status");
    assert.throws(
      () => requireHandedFd(own, "--status-fd", "the exec status"),
      new RegExp(
        `^UsageError: --status-fd ${own}: fd ${own} is one opsd opened for itself: open it ` +
          `for the exec status \\(${own}>FILE or a pipe\\)$`,
      ),
    );
  } finally {
    for (const fd of [reader, writer, own]) close(fd);
  }
});

Deno.test("opsd exec never reads or closes an fd of the runtime's own as --env-fd (exit 2)", async () => {
  // fd 3 closed before exec: the runtime takes it for its event loop.
  const run = await runOpsd(["exec", "--env-fd", "3", "--", "true"], {
    under: ["sh", "-c", 'exec 3>&- "$@"', "sh"],
  });
  assert.deepEqual([run.code, run.stderr], [
    2,
    "opsd exec: --env-fd 3: fd 3 is one opsd opened for itself: open it for the environment " +
    "(3>FILE or a pipe)\n",
  ]);
});

import assert from "node:assert/strict";
import { runOpsd, tempDir } from "../fixtures/mod.ts";
import { sanitizedTest } from "../fixtures/sanitized.ts";

sanitizedTest(
  "opsd exec --user looks for the program with that user's rights: a file only root may execute is refused (126), saying why",
  async () => {
    await using dir = await tempDir();
    Deno.chmodSync(dir.path, 0o755);
    const program = `${dir.path}/prog`;
    Deno.writeTextFileSync(program, "#!/bin/sh\necho ran\n", { mode: 0o700 });
    const asRoot = await runOpsd(["exec", "--", program]);
    assert.deepEqual([asRoot.code, asRoot.stdout], [0, "ran\n"]);
    const asNobody = await runOpsd(["exec", "--user", "nobody", "--", program]);
    assert.deepEqual([asNobody.code, asNobody.stdout, asNobody.stderr], [
      126,
      "",
      `opsd exec: ${program}: permission denied: user nobody may not execute it: check its owner ` +
      "and mode (ls -l), and that its file system is not mounted noexec\n",
    ]);
  },
);

sanitizedTest(
  "opsd exec --group alone keeps the user and makes the group the only one",
  async () => {
    const run = await runOpsd(["exec", "--group", "nogroup", "--", "id"]);
    assert.deepEqual([run.code, run.stdout], [
      0,
      "uid=0(root) gid=65534(nogroup) groups=65534(nogroup)\n",
    ]);
  },
);

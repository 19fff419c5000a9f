import assert from "node:assert/strict";
import { resolveCredentials } from "../../lib/process/credentials.ts";
import { spawnProgram } from "../../lib/process/spawn.ts";
import { ExitCode, OpsdError } from "../../lib/errors.ts";
import { close, open, pipe2, read, waitpid } from "../../lib/sys/libc.ts";
import { O } from "../../lib/sys/constants.ts";
import { tempDir, waitFor } from "../fixtures/mod.ts";

/** Runs a shell snippet through spawnProgram and returns what it printed and its status. */
async function runShell(script: string, options: Partial<Parameters<typeof spawnProgram>[0]> = {}) {
  const [reader, writer] = pipe2();
  const devNull = open("/dev/null", O.RDWR | O.CLOEXEC);
  try {
    const pid = await spawnProgram({
      argv: ["sh", "-c", script],
      fds: [devNull, writer, writer],
      ...options,
    });
    close(writer);
    const status = await waitFor("child exit", () => waitpid(pid));
    const buffer = new Uint8Array(4096);
    let text = "";
    for (let n; (n = read(reader, buffer)) > 0;) {
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    return { pid, status, text };
  } finally {
    close(reader);
    close(devNull);
  }
}

Deno.test("spawnProgram finds the program in the child's PATH and applies umask and cwd", async () => {
  const { text, status } = await runShell("umask; pwd", { umask: 0o027, cwd: "/tmp" });
  assert.equal(text, "0027\n/tmp\n");
  assert.equal(status.exitCode, 0);
});

Deno.test("spawnProgram rejects with 127 for a missing program and 126 for a non-executable one", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/run`, "#!/bin/sh\n", { mode: 0o644 });
  await assert.rejects(
    spawnProgram({ argv: ["no-such-program-opsd"], fds: [0, 1, 2] }),
    (e: unknown) => e instanceof OpsdError && e.exitCode === ExitCode.notFound,
  );
  await assert.rejects(
    spawnProgram({ argv: ["./run"], cwd: dir.path, fds: [0, 1, 2] }),
    (e: unknown) =>
      e instanceof OpsdError && e.exitCode === ExitCode.cannotExecute &&
      /chmod \+x/.test(e.message),
  );
});

Deno.test("spawnProgram runs a child as another user through the exec shim, same pid", async () => {
  const credentials = resolveCredentials("nobody");
  // ls writes straight to fd 1: in a pipeline (ls | wc) the shell could still hold the
  // pipe's read end while ls looked, a fourth fd on a loaded machine.
  const { pid, text } = await runShell("echo $$ $(id -u) $(id -g); ls /proc/$$/fd", {
    credentials,
  });
  const [ids, ...fds] = text.trim().split("\n");
  const [shellPid, uid, gid] = ids.split(" ").map(Number);
  assert.equal(shellPid, pid, "the shim execs in place, keeping the pid");
  assert.deepEqual([uid, gid], [credentials.uid, credentials.gid]);
  // Exactly 0, 1 and 2: the shim's status pipe closed on exec.
  assert.deepEqual(fds, ["0", "1", "2"]);
});

Deno.test("spawnProgram under another user reports exec failure exactly and leaves nothing running", async () => {
  await assert.rejects(
    spawnProgram({
      argv: ["no-such-program-opsd"],
      // Not this test's PATH: nobody may not search its directories under /root (126, as execvp).
      env: { PATH: "/usr/bin:/bin" },
      fds: [0, 1, 2],
      credentials: resolveCredentials("nobody"),
    }),
    (e: unknown) => e instanceof OpsdError && e.exitCode === ExitCode.notFound,
  );
});

Deno.test("spawnProgram names the interpreter a script's #! line asks for when it is missing (127), as itself and as another user", async () => {
  await using dir = await tempDir();
  Deno.chmodSync(dir.path, 0o755);
  const script = `${dir.path}/run`, crlf = `${dir.path}/crlf`, binary = `${dir.path}/binary`;
  Deno.writeTextFileSync(script, "#! /nonexistent/shell -e\necho\n", { mode: 0o755 });
  Deno.writeTextFileSync(crlf, "#!/bin/sh\r\necho\r\n", { mode: 0o755 });
  // A binary whose dynamic loader is not there: /bin/true with one letter of its loader's name changed.
  const bytes = Deno.readFileSync("/bin/true");
  const loader = new TextDecoder("latin1").decode(bytes).indexOf("/ld-linux");
  assert.ok(loader > 0, "/bin/true names its dynamic loader");
  bytes[loader + 1] = "Q".charCodeAt(0);
  Deno.writeFileSync(binary, bytes, { mode: 0o755 });
  const expected = [
    [
      script,
      `exec ${script}: its interpreter /nonexistent/shell was not found: fix its #! line (e.g. '#!/bin/sh')`,
    ],
    [
      crlf,
      `exec ${crlf}: its interpreter "/bin/sh\\r" was not found: its lines end in a carriage return (Windows line endings): remove them (sed -i 's/\\r$//' ${crlf})`,
    ],
    [
      binary,
      `exec ${binary}: the file exists, but the loader it needs (for a binary, its dynamic loader: see 'file ${binary}') was not found`,
    ],
  ];
  for (const credentials of [undefined, resolveCredentials("nobody")]) {
    for (const [path, message] of expected) {
      await assert.rejects(
        spawnProgram({ argv: [path], fds: [0, 1, 2], credentials }),
        (e: unknown) => {
          assert.ok(e instanceof OpsdError);
          assert.deepEqual([e.exitCode, e.message], [ExitCode.notFound, message]);
          return true;
        },
      );
    }
  }
});

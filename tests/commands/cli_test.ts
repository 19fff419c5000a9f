import assert from "node:assert/strict";
import { runOpsd } from "../fixtures/mod.ts";
import { VERSION } from "../../lib/version.ts";

Deno.test("opsd --version prints the version and exits 0", async () => {
  const run = await runOpsd(["--version"]);
  assert.equal(run.stdout.trim(), VERSION);
  assert.equal(run.code, 0);
});

Deno.test("an unknown option is a usage error: one line, a pointer to --help, exit 2", async () => {
  const run = await runOpsd(["--no-such-flag"]);
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.equal(run.stderr, "opsd: unknown option '--no-such-flag' (see 'opsd --help')\n");
  const value = await runOpsd(["wait", "--timeout", "soon", "/srv/web"]);
  assert.equal(value.code, 2);
  assert.match(
    value.stderr,
    /^opsd wait: --timeout: bad duration "soon": .* \(see 'opsd wait --help'\)\n$/,
  );
});

Deno.test("help asked for exits 0; no command at all is a usage error (help on stderr, exit 2)", async () => {
  const asked = await runOpsd(["--help"]);
  assert.equal(asked.code, 0);
  assert.match(asked.stdout, /^Usage: opsd /);
  assert.match(asked.stdout, /\nExamples:\n {2}opsd supervise --daemon /);
  const none = await runOpsd([]);
  assert.equal(none.code, 2);
  assert.equal(none.stdout, "");
  assert.match(none.stderr, /^Usage: opsd /);
});

Deno.test("every help has examples and fits 80 columns", async () => {
  const commands = [[], ...["supervise", "status", "up", "svc", "tail", "wait"].map((c) => [c])]
    .concat([["daemon"], ["daemon", "status"], ["daemon", "stop"], ["fds"], ["exec"]]);
  await Promise.all(commands.map(async (command) => {
    const { code, stdout } = await runOpsd([...command, "--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /\nExamples:\n {2}opsd /, command.join(" "));
    for (const line of stdout.split("\n")) assert.ok(line.length <= 80, `${command}: ${line}`);
  }));
});

Deno.test("output that cannot be written is one line naming stdout and the reason, exit 1", async () => {
  for (const args of [["fds", "--pid", String(Deno.pid)], ["--version"]]) {
    const run = await runOpsd(args, { stdoutTo: "/dev/full" });
    assert.deepEqual([run.code, run.stderr], [
      1,
      `opsd${args[0] === "fds" ? " fds" : ""}: cannot write to stdout: ENOSPC (no space left on ` +
      "device): check where stdout goes\n",
    ]);
  }
});

Deno.test("a name with a newline or an escape sequence is escaped: errors and status lines stay one line", async () => {
  const name = "/tmp/no-such-opsd-svc\n\x1b[31m";
  const missing = await runOpsd(["status", name]);
  assert.equal(missing.code, 2);
  assert.equal(
    missing.stderr,
    "opsd status: no such service: /tmp/no-such-opsd-svc\\n^[[31m: name a directory with an " +
      "executable run file, or an executable script\n",
  );
  const dir = await Deno.makeTempDir();
  try {
    const service = `${dir}/odd\nname`;
    await Deno.mkdir(service);
    await Deno.writeTextFile(`${service}/run`, "#!/bin/sh\nexec sleep 1000\n", { mode: 0o755 });
    const status = await runOpsd(["status", service]);
    assert.deepEqual([status.code, status.stdout], [
      3,
      `${dir}/odd\\nname: supervisor not running; never supervised\n`,
    ]);
    // A message built from an escaped status line is not escaped twice.
    const wait = await runOpsd(["wait", "--up", service]);
    assert.equal(wait.code, 3);
    assert.ok(wait.stderr.startsWith(`opsd wait: ${dir}/odd\\nname: supervisor not running;`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { ExitCode, OpsdError } from "../../lib/errors.ts";
import {
  daemonEnvironment,
  parseEnvFile,
  parseEnvSetting,
  readEnvFile,
} from "../../lib/daemon/env.ts";
import { resolveCredentials } from "../../lib/process/credentials.ts";
import { tempDir } from "../fixtures/mod.ts";

Deno.test("parseEnvFile reads systemd EnvironmentFile lines: comments, spaces, quotes", () => {
  const text = [
    "# a comment",
    "; another",
    "",
    "PLAIN=value with spaces  ",
    "  SPACED = x",
    'DOUBLE="a \\"quoted\\" \\$HOME and \\\\ and \\n"',
    "SINGLE='$HOME \\n as is'",
    "EMPTY=",
    "EQUALS=a=b\r",
  ].join("\n");
  assert.deepEqual(parseEnvFile(text, "app.env"), [
    ["PLAIN", "value with spaces"],
    ["SPACED", "x"],
    ["DOUBLE", 'a "quoted" $HOME and \\ and \\n'],
    ["SINGLE", "$HOME \\n as is"],
    ["EMPTY", ""],
    ["EQUALS", "a=b"],
  ]);
});

Deno.test("parseEnvFile names the file and line of a bad line", () => {
  assert.throws(
    () => parseEnvFile("A=1\nnot a setting\n", "app.env"),
    /^UsageError: app\.env:2: expected KEY=VALUE/,
  );
  assert.throws(() => parseEnvFile('A="open\n', "app.env"), /app\.env:1: unterminated " quote/);
  assert.throws(() => parseEnvFile("1A=x\n", "app.env"), /app\.env:1: expected KEY=VALUE/);
});

Deno.test("parseEnvSetting splits at the first =", () => {
  assert.deepEqual(parseEnvSetting("URL=http://x/?a=b"), ["URL", "http://x/?a=b"]);
  assert.throws(() => parseEnvSetting("NOVALUE"), /expected KEY=VALUE/);
});

Deno.test(
  "readEnvFile: a missing file is a usage error, an unreadable one a permission error",
  async () => {
    await using dir = await tempDir();
    assert.throws(
      () => readEnvFile(`${dir.path}/missing.env`),
      (e: unknown) =>
        e instanceof OpsdError && e.exitCode === ExitCode.usage && /no such file/.test(e.message),
    );
    assert.throws(
      () => readEnvFile(dir.path),
      (e: unknown) => e instanceof OpsdError && e.exitCode === ExitCode.usage,
    );
    Deno.writeTextFileSync(`${dir.path}/ok.env`, "A=1\n");
    assert.deepEqual(readEnvFile(`${dir.path}/ok.env`), [["A", "1"]]);
  },
);

Deno.test("daemonEnvironment layers the user's HOME, USER and LOGNAME under files and settings", async () => {
  await using dir = await tempDir();
  Deno.writeTextFileSync(`${dir.path}/app.env`, "USER=from-file\nPORT=1\n");
  const credentials = resolveCredentials("nobody");
  assert.deepEqual(
    daemonEnvironment({
      clear: true,
      credentials,
      files: [`${dir.path}/app.env`],
      settings: [["PORT", "2"]],
    }),
    { HOME: "/nonexistent", USER: "from-file", LOGNAME: "nobody", PORT: "2" },
  );
  assert.deepEqual(
    daemonEnvironment({ clear: true, credentials: resolveCredentials(undefined, "nogroup") }),
    {},
  );
});

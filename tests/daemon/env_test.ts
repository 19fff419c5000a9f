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

Deno.test("parseEnvFile joins a line ending in an unescaped backslash to the next, as systemd does", () => {
  const text = [
    "UNQUOTED=one \\",
    "  two\\",
    "three   ",
    'DOUBLE="one \\',
    '  two"',
    "ESCAPED=C:\\\\",
    "NEXT=not joined to ESCAPED",
    "EMPTY=\\",
    "",
    "LAST=end\\",
  ].join("\n");
  assert.deepEqual(parseEnvFile(text, "app.env"), [
    ["UNQUOTED", "one   twothree"],
    ["DOUBLE", "one   two"],
    ["ESCAPED", "C:\\"],
    ["NEXT", "not joined to ESCAPED"],
    ["EMPTY", ""],
    ["LAST", "end"],
  ]);
  // The line after a joined one is part of the value, even when it looks like a comment.
  assert.deepEqual(parseEnvFile("A=x\\\n# y\nB=1\r\n", "app.env"), [["A", "x# y"], ["B", "1"]]);
  // A comment ending in a backslash does not swallow the next line (systemd 254 and later).
  assert.deepEqual(parseEnvFile("# note \\\nA=1\n", "app.env"), [["A", "1"]]);
  // With CRLF line ends too.
  assert.deepEqual(parseEnvFile('A=one \\\r\ntwo\r\nB="x\\\r\ny"\r\n', "app.env"), [
    ["A", "one two"],
    ["B", "xy"],
  ]);
});

Deno.test("parseEnvFile: backslashes and quotes as systemd reads them", () => {
  const text = [
    "UNQUOTED=a\\b\\\\c\\ ",
    "INNER=x\"y\" 'z'",
    'DOUBLE="\\d \\" \\$ \\` \\\\"',
    "SINGLE='no \\",
    "escapes'",
    'MULTI="line one',
    'line two"  ',
  ].join("\n");
  assert.deepEqual(parseEnvFile(text, "app.env"), [
    ["UNQUOTED", "ab\\c "],
    ["INNER", "x\"y\" 'z'"],
    ["DOUBLE", '\\d " $ ` \\'],
    ["SINGLE", "no \\\nescapes"],
    ["MULTI", "line one\nline two"],
  ]);
});

Deno.test("parseEnvFile: a quote never closed names the line it opened on; text after one is refused", () => {
  assert.throws(
    () => parseEnvFile('A=1\nB="one \\\ntwo\nC=3\n', "app.env"),
    /^UsageError: app\.env:2: unterminated " quote: close it$/,
  );
  assert.throws(
    () => parseEnvFile("A='one\ntwo' three\n", "app.env"),
    /^UsageError: app\.env:2: text after the closing ' quote: put the whole value inside the quotes$/,
  );
  assert.throws(
    () => parseEnvFile('A="say "hi""\n', "app.env"),
    /^UsageError: app\.env:1: text after the closing " quote: .*, or escape a " inside it as \\"$/,
  );
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

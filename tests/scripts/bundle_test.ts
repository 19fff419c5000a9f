import assert from "node:assert/strict";
import { bundleOpsd } from "../../scripts/bundle.ts";
import { tempDir } from "../fixtures/mod.ts";

Deno.test("bundleOpsd replaces what a previous build left in its directory, and nothing else there", async () => {
  await using dir = await tempDir();
  const left = ["chunk-OLD12345.js", "scan-OLD12345.js", "main.js"],
    others = ["app.js", "my-app.js", "opsd", "notes.txt"];
  for (const name of [...left, ...others]) await Deno.writeTextFile(`${dir.path}/${name}`, "x");
  const entry = await bundleOpsd(dir.path);
  assert.equal(entry, `${dir.path}/opsd.js`);
  const names = [...Deno.readDirSync(dir.path)].map((file) => file.name);
  for (const name of others) assert.ok(names.includes(name), `${name} kept`);
  for (const name of left) assert.ok(!names.includes(name), `${name} removed`);
  const run = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", entry, "--version"] })
    .output();
  assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
});

import assert from "node:assert/strict";
import { type SettingKey, settingRange, SETTINGS } from "../../lib/service/settings.ts";
import { CONTROL_WORDS } from "../../lib/supervise/words.ts";

const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));

Deno.test("the README lists every setting with its default and its range", () => {
  for (const [key, spec] of Object.entries(SETTINGS)) {
    const fallback = spec.default === "" ? "none" : `\`${spec.default}\``;
    const row = new RegExp(`\\| \`${key}\` +\\| ${fallback} +\\|(.*)\\|`).exec(readme);
    assert.ok(row, key);
    const range = settingRange(key as SettingKey);
    if (range) assert.match(row[1], new RegExp(`[(;] ?${range}\\)`), key);
  }
});

Deno.test("the README lists every control word with its svc letter", () => {
  for (const [word, spec] of Object.entries(CONTROL_WORDS)) {
    const letter = spec.letter ? `\`-${spec.letter}\`` : "";
    assert.match(readme, new RegExp(`\\| \`${word}\` +\\| ${letter} +\\|`), word);
  }
});

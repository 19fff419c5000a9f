import assert from "node:assert/strict";
import { shellQuote, suggestCommand } from "../../lib/text/command.ts";

Deno.test("suggestCommand quotes the command when safe, else each word that needs it", () => {
  assert.equal(suggestCommand("opsd", "exit", "/srv/web"), "'opsd exit /srv/web'");
  assert.equal(suggestCommand("opsd", "exit", "/srv/my web"), "opsd exit '/srv/my web'");
  assert.equal(shellQuote("it's"), "'it'\\''s'");
  assert.equal(shellQuote("$HOME"), "'$HOME'");
});

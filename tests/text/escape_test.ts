import assert from "node:assert/strict";
import { escapeControls, escapeText } from "../../lib/text/escape.ts";

Deno.test("escapeText escapes control characters as lsof does, and spaces where asked", () => {
  assert.equal(escapeText("we ird\nx\x1b[31m", { spaces: true }), "we\\x20ird\\nx^[[31m");
  assert.equal(escapeText("/tmp/esc\x1b[31mred\ttab.txt"), "/tmp/esc^[[31mred\\ttab.txt");
  assert.equal(escapeText("/a b/new\nline\r\b\f"), "/a b/new\\nline\\r\\b\\f");
  assert.equal(escapeText("\x00\x07\x1f"), "^@^G^_");
  assert.equal(escapeText("back\\slash"), "back\\\\slash");
  assert.equal(escapeText("del\x7f c1\x85"), "del\\x7f c1\\xc2\\x85");
  // Bidi overrides and line separators reorder or break the line: escaped as UTF-8 bytes.
  assert.equal(escapeText("a\u202eb\u2028"), "a\\xe2\\x80\\xaeb\\xe2\\x80\\xa8");
  // Printable text of any script stays as it is.
  assert.equal(escapeText("café 名前.txt"), "café 名前.txt");
});

Deno.test("escapeControls escapes what a terminal acts on and leaves backslashes: escaped text stays as it is", () => {
  assert.equal(escapeControls("a\nb\x1b[31m\\c"), "a\\nb^[[31m\\c");
  const once = escapeText("we\nird\\");
  assert.equal(escapeControls(once), once);
});

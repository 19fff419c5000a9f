import assert from "node:assert/strict";
import { decodeName, escapeControls, escapeText } from "../../lib/text/escape.ts";

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

Deno.test("decodeName keeps each byte of a name that is not UTF-8, which escapeText shows as lsof does (\\xNN)", () => {
  const name = (...bytes: number[]) => decodeName(new Uint8Array(bytes));
  assert.equal(name(0x61, 0xc3, 0xa9), "aé");
  const latin1 = name(0x61, 0xff, 0x62); // "aÿb" in Latin-1
  assert.equal(latin1, "a\udcffb");
  assert.equal(escapeText(latin1), "a\\xffb");
  assert.equal(JSON.stringify(latin1), '"a\\udcffb"');
  // A cut or overlong sequence, a UTF-16 surrogate's encoding: each byte kept on its own.
  assert.equal(escapeText(name(0xe2, 0x82)), "\\xe2\\x82");
  assert.equal(escapeText(name(0xc0, 0xaf)), "\\xc0\\xaf");
  assert.equal(escapeText(name(0xed, 0xa0, 0x80, 0x41)), "\\xed\\xa0\\x80A");
  assert.equal(escapeText(name(0xf0, 0x9f, 0x98, 0x80, 0xfe)), "😀\\xfe");
});

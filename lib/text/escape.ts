/**
 * Text that other processes chose (command names, file names, socket paths)
 * made safe to print on a terminal, the way lsof prints it: one line, no
 * escape sequences reaching the terminal.
 *
 * @module
 */

/** Control characters (C0, DEL, C1), format characters (bidi overrides…), line separators. */
const _UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\\]/gu;
const _UNSAFE_OR_SPACE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\\ ]/gu;
const _CONTROLS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
const _NAMED: Record<string, string> = {
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\\": "\\\\",
  " ": "\\x20",
};
const _encoder = new TextEncoder();

/**
 * `text` with what a terminal would not print as text escaped as lsof escapes
 * it: `\n`, `\t`, `\r`, `\b`, `\f`; other C0 controls as `^X` (ESC is `^[`);
 * a backslash as `\\`; DEL, C1 controls, format characters (bidi overrides)
 * and line separators as `\xNN` per UTF-8 byte. With `spaces` (a column other
 * than the last, as lsof's COMMAND), a space is `\x20` too.
 *
 * @example
 * ```ts
 * escapeText("we ird\n\x1b[31m", { spaces: true }); // "we\\x20ird\\n^[[31m"
 * ```
 */
export function escapeText(text: string, options: { spaces?: boolean } = {}): string {
  return text.replace(options.spaces ? _UNSAFE_OR_SPACE : _UNSAFE, _escape);
}

/**
 * `text` with only what a terminal would act on escaped as {@linkcode escapeText}
 * escapes it, backslashes left alone: for a whole message whose names may already
 * be escaped (escaping again would double their backslashes), so that it stays one
 * line and sends no escape sequence.
 */
export function escapeControls(text: string): string {
  return text.replace(_CONTROLS, _escape);
}

function _escape(char: string): string {
  const named = _NAMED[char];
  if (named !== undefined) return named;
  const code = char.codePointAt(0)!;
  if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`;
  return [..._encoder.encode(char)].map((byte) => `\\x${byte.toString(16).padStart(2, "0")}`)
    .join("");
}

/**
 * Text that other processes chose (command names, file names, socket paths)
 * made safe to print on a terminal, the way lsof prints it: one line, no
 * escape sequences reaching the terminal.
 *
 * @module
 */

/**
 * Control characters (C0, DEL, C1), format characters (bidi overrides…), line separators,
 * and lone surrogates (the bytes of a name that is not UTF-8, see `decodeName`).
 */
const _UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\\]/gu;
const _UNSAFE_OR_SPACE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\\ ]/gu;
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

// A byte that is no UTF-8 becomes this plus the byte: U+DC80-U+DCFF, lone surrogates.
const _RAW_BYTE = 0xdc00;
const _strict = new TextDecoder("utf-8", { fatal: true });

/**
 * A name the kernel gave as bytes (a file name, a socket path) as text, without
 * losing a byte: where it is not UTF-8 (a Latin-1 file name), each byte that is
 * no part of a UTF-8 character becomes U+DC80-U+DCFF, a lone surrogate (Python's
 * `surrogateescape`), which {@linkcode escapeText} shows as `\xNN`, as lsof shows
 * it, and JSON carries as `"\udcNN"` (a program can map it back to the byte).
 * U+FFFD, what a plain decoder gives, would make every such byte the same.
 *
 * @example
 * ```ts
 * escapeText(decodeName(new Uint8Array([0x61, 0xff]))); // "a\\xff"
 * ```
 */
export function decodeName(bytes: Uint8Array): string {
  try {
    return _strict.decode(bytes);
  } catch {
    return _decodeLeniently(bytes);
  }
}

function _decodeLeniently(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length;) {
    const length = _sequenceLength(bytes, i);
    if (length === 0) {
      text += String.fromCharCode(_RAW_BYTE + bytes[i]);
      i++;
    } else {
      text += _strict.decode(bytes.subarray(i, i + length));
      i += length;
    }
  }
  return text;
}

/** The length of the well-formed UTF-8 character at `bytes[at]`, or 0 when there is none. */
function _sequenceLength(bytes: Uint8Array, at: number): number {
  const first = bytes[at];
  if (first < 0x80) return 1;
  const length = first >= 0xc2 && first <= 0xdf
    ? 2
    : first >= 0xe0 && first <= 0xef
    ? 3
    : first >= 0xf0 && first <= 0xf4
    ? 4
    : 0;
  if (length === 0 || at + length > bytes.length) return 0;
  try {
    _strict.decode(bytes.subarray(at, at + length));
    return length;
  } catch {
    return 0;
  }
}

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
  // A byte of a name that is not UTF-8, as decodeName keeps it.
  if (code >= _RAW_BYTE + 0x80 && code <= _RAW_BYTE + 0xff) {
    return `\\x${(code - _RAW_BYTE).toString(16)}`;
  }
  return [..._encoder.encode(char)].map((byte) => `\\x${byte.toString(16).padStart(2, "0")}`)
    .join("");
}

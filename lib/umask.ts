/**
 * File mode creation masks as operators write them in flags and service files:
 * `022`, `027`, `0077`.
 *
 * @module
 */

/**
 * The mask in an octal umask such as `022` or `0027` (000 to 777); throws
 * `RangeError` saying what it expected. One parser for `opsd daemon --umask`
 * and a service's `umask`, so both take the same spellings.
 *
 * @example
 * ```ts
 * parseUmask("027"); // 0o027
 * ```
 */
export function parseUmask(text: string): number {
  const digits = text.trim();
  if (!/^[0-7]{1,4}$/.test(digits) || parseInt(digits, 8) > 0o777) {
    throw new RangeError("expected an octal mask from 000 to 777, such as 022 or 027");
  }
  return parseInt(digits, 8);
}

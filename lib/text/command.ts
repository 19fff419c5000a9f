/**
 * Commands suggested in messages (`start one with 'opsd supervise /srv/web'`),
 * written so that they can be pasted into a shell whatever the path holds.
 *
 * @module
 */

const _SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * `words` as a command to suggest: `'opsd supervise /srv/web'` when no word
 * needs quoting (the quotes mark where the command begins and ends), else the
 * words shell-quoted without outer quotes: `opsd supervise '/srv/my web'`.
 *
 * @example
 * ```ts
 * suggestCommand("opsd", "exit", "/srv/my web"); // "opsd exit '/srv/my web'"
 * ```
 */
export function suggestCommand(...words: string[]): string {
  if (words.every((word) => _SAFE.test(word))) return `'${words.join(" ")}'`;
  return words.map(shellQuote).join(" ");
}

/** `word` as one shell word: as it is when safe, else in single quotes (`'` as `'\''`). */
export function shellQuote(word: string): string {
  return _SAFE.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

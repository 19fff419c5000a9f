/**
 * Byte sizes as operators write them in flags and service files: `400`, `64k`,
 * `10M`, `1G` (powers of 1024; `kB`, `KiB`, `MB`, `MiB`… are accepted too).
 *
 * @module
 */

const _UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * Bytes in a size such as `400`, `64k`, `10M` or `1.5G`; throws `RangeError`
 * saying what it expected.
 *
 * @example
 * ```ts
 * parseSize("10M"); // 10485760
 * ```
 */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(text);
  if (!match) {
    throw new RangeError(
      `bad size "${text}": expected bytes, or a number with k, M or G (e.g. 10M)`,
    );
  }
  return Math.round(Number(match[1]) * _UNITS[match[2].toLowerCase()]);
}

/**
 * `bytes` as an operator would write it: in the largest unit that divides it
 * exactly (`65536` is `64k`, `1073741824` is `1G`, `400` stays `400`), so limits
 * read as the sizes a setting takes.
 */
export function formatSize(bytes: number): string {
  for (const unit of ["G", "M", "k"]) {
    const size = _UNITS[unit.toLowerCase()];
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

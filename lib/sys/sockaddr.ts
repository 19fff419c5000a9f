/**
 * Encoding and decoding of `struct sockaddr_in`, `sockaddr_in6` and `sockaddr_un`,
 * the byte layouts `bind(2)` and `getsockname(2)` exchange.
 *
 * @module
 */

import { SOCK } from "./constants.ts";

/** A socket address in the form opsd works with. */
export type SocketAddress =
  | { family: "ipv4"; address: string; port: number }
  | { family: "ipv6"; address: string; port: number }
  | { family: "unix"; path: string };

/** Size of the largest address `decodeSockaddr` reads (`struct sockaddr_storage`). */
export const SOCKADDR_STORAGE_SIZE = 128;

/** The bytes of a sockaddr for `bind(2)` or `connect(2)`; throws `RangeError` on a bad address. */
export function encodeSockaddr(address: SocketAddress): Uint8Array<ArrayBuffer> {
  if (address.family === "unix") {
    const path = new TextEncoder().encode(address.path);
    if (path.length > 107) throw new RangeError(`unix socket path too long: ${address.path}`);
    const bytes = new Uint8Array(2 + path.length + 1);
    new DataView(bytes.buffer).setUint16(0, SOCK.AF_UNIX, true);
    bytes.set(path, 2);
    return bytes;
  }
  if (address.family === "ipv4") {
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, SOCK.AF_INET, true);
    view.setUint16(2, address.port, false);
    bytes.set(_parseIpv4(address.address), 4);
    return bytes;
  }
  const bytes = new Uint8Array(28);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, SOCK.AF_INET6, true);
  view.setUint16(2, address.port, false);
  bytes.set(parseIpv6(address.address), 8);
  return bytes;
}

/** The address held in a sockaddr buffer of `length` bytes (as `getsockname(2)` fills it). */
export function decodeSockaddr(bytes: Uint8Array, length: number): SocketAddress {
  const view = new DataView(bytes.buffer, bytes.byteOffset, length);
  const family = view.getUint16(0, true);
  if (family === SOCK.AF_INET) {
    return { family: "ipv4", address: bytes.subarray(4, 8).join("."), port: view.getUint16(2) };
  }
  if (family === SOCK.AF_INET6) {
    return { family: "ipv6", address: formatIpv6(bytes.subarray(8, 24)), port: view.getUint16(2) };
  }
  if (family === SOCK.AF_UNIX) {
    const end = bytes.subarray(2, length).indexOf(0);
    const path = bytes.subarray(2, end < 0 ? length : 2 + end);
    return { family: "unix", path: new TextDecoder().decode(path) };
  }
  throw new RangeError(`unsupported address family ${family}`);
}

function _parseIpv4(text: string): number[] {
  const parts = text.split(".");
  const octets = parts.map(Number);
  if (parts.length !== 4 || parts.some((p, i) => !/^\d{1,3}$/.test(p) || octets[i] > 255)) {
    throw new RangeError(`bad IPv4 address "${text}"`);
  }
  return octets;
}

/** The 16 bytes of an IPv6 address such as `::1`, `fe80::1` or `::ffff:127.0.0.1`. */
export function parseIpv6(text: string): Uint8Array {
  const bad = () => new RangeError(`bad IPv6 address "${text}"`);
  let head = text;
  const tail: number[] = [];
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    head = v4[1].endsWith("::") ? v4[1] : v4[1].slice(0, -1);
    const [a, b, c, d] = _parseIpv4(v4[2]);
    tail.push((a << 8) | b, (c << 8) | d);
  }
  const halves = head.split("::");
  if (halves.length > 2) throw bad();
  const words = (part: string) =>
    part === "" ? [] : part.split(":").map((w) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(w)) throw bad();
      return parseInt(w, 16);
    });
  const left = words(halves[0]);
  const right = [...(halves.length === 2 ? words(halves[1]) : []), ...tail];
  const fill = 8 - left.length - right.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) throw bad();
  const all = [...left, ...new Array(halves.length === 2 ? fill : 0).fill(0), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((word, i) => {
    bytes[2 * i] = word >> 8;
    bytes[2 * i + 1] = word & 0xff;
  });
  return bytes;
}

/**
 * The canonical text of 16 IPv6 address bytes (RFC 5952: longest zero run as `::`,
 * v4-mapped addresses as `::ffff:a.b.c.d`).
 */
export function formatIpv6(bytes: Uint8Array): string {
  const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1]);
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${bytes.subarray(12, 16).join(".")}`;
  }
  let bestStart = -1, bestLength = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

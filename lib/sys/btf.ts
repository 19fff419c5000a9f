/**
 * The running kernel's type information (BTF, `/sys/kernel/btf/vmlinux`): the
 * type id of a kernel function and the byte offset of a struct member, which a
 * BPF program needs to attach to an iterator and to read kernel structs. The
 * layout of `struct file` or `struct task_struct` changes between kernel builds;
 * BTF is the kernel's own account of it, so nothing here is hard-coded.
 *
 * The file is a header, a section of type records (id 1 first) and a section of
 * NUL-terminated names; see the kernel's Documentation/bpf/btf.rst. The records
 * are read in order, indexed by id, only as far as what is asked for.
 *
 * @module
 */

import { withMappedFile } from "./libc.ts";

const _MAGIC = 0xeb9f;
const _KIND = {
  STRUCT: 4,
  UNION: 5,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  TYPE_TAG: 18,
};
/** Type tags, qualifiers and typedefs name a type without changing its layout. */
const _SEE_THROUGH = new Set([
  _KIND.TYPEDEF,
  _KIND.VOLATILE,
  _KIND.CONST,
  _KIND.RESTRICT,
  _KIND.TYPE_TAG,
]);

/** A failure to find what a program needs: the kernel lacks it, or names it otherwise. */
export class BtfError extends Error {
  override name = "BtfError";
}

/**
 * The kernel's types, indexed as far as needed: the records are read in order
 * until the functions and structs named to {@linkcode parseBtf} are found, and
 * further only when a member's type lies beyond (the kernel's BTF holds over
 * 100,000 types; what opsd asks for is usually found in the first half).
 */
export class KernelBtf {
  #words: Uint32Array;
  #names: Uint8Array;
  /** Word index of each record read so far, by type id. */
  #at = new Uint32Array(1 << 17);
  /** The next record to read: its word index and its id. */
  #next = 0;
  #nextId = 1;
  #wanted: { kind: number; name: Uint8Array; key: string }[];
  #found = new Map<string, number>();

  constructor(
    words: Uint32Array,
    names: Uint8Array,
    wanted: { functions: string[]; structs: string[] },
  ) {
    this.#words = words;
    this.#names = names;
    this.#wanted = [
      ...wanted.functions.map((name) => ({
        kind: _KIND.FUNC,
        name: _encoder.encode(name),
        key: `func ${name}`,
      })),
      ...wanted.structs.map((name) => ({
        kind: _KIND.STRUCT,
        name: _encoder.encode(name),
        key: `struct ${name}`,
      })),
    ];
    this.#readUntil(Infinity);
  }

  /** The type id of the kernel function `name` (such as `bpf_iter_task_file`). */
  functionId(name: string): number {
    const id = this.#found.get(`func ${name}`);
    if (id === undefined) throw new BtfError(`kernel has no function ${name} in its BTF`);
    return id;
  }

  /**
   * The byte offset of `path` (members joined by dots, such as `ns.inum`) in
   * struct `struct`, through embedded structs and anonymous unions.
   */
  offsetOf(struct: string, path: string): number {
    let id = this.#found.get(`struct ${struct}`);
    if (id === undefined) throw new BtfError(`kernel has no struct ${struct} in its BTF`);
    let offset = 0;
    for (const member of path.split(".")) {
      const found = this.#member(this.#resolve(id), _encoder.encode(member));
      if (!found) throw new BtfError(`kernel's struct ${struct} has no member ${path}`);
      offset += found.offset;
      id = found.type;
    }
    return offset;
  }

  /**
   * Reads records, indexing them and noting the names wanted, until the one of
   * id `last` is read, or, with `last` Infinity, until every name wanted is found.
   */
  #readUntil(last: number): void {
    const words = this.#words, names = this.#names, wanted = this.#wanted;
    const firstBytes = new Set(wanted.map((one) => one.name[0]));
    let i = this.#next, id = this.#nextId, at = this.#at;
    while (i < words.length && id <= last) {
      if (id >= at.length) {
        const grown = new Uint32Array(at.length * 2);
        grown.set(at);
        at = grown;
      }
      at[id] = i;
      const info = words[i + 1];
      const kind = (info >>> 24) & 0x1f;
      if ((kind === _KIND.FUNC || kind === _KIND.STRUCT) && firstBytes.has(names[words[i]])) {
        for (const one of wanted) {
          if (
            one.kind === kind && _nameIs(names, words[i], one.name) && !this.#found.has(one.key)
          ) {
            this.#found.set(one.key, id);
            if (last === Infinity && this.#found.size === wanted.length) last = id;
          }
        }
      }
      i += 3 + _extraWords(kind, info & 0xffff);
      id++;
    }
    this.#at = at;
    this.#next = i;
    this.#nextId = id;
  }

  /** `name` in the struct or union at record `at`, looking into anonymous members. */
  #member(at: number, name: Uint8Array): { offset: number; type: number } | null {
    const words = this.#words;
    const info = words[at + 1];
    const kind = (info >>> 24) & 0x1f;
    if (kind !== _KIND.STRUCT && kind !== _KIND.UNION) return null;
    const bitfields = info >>> 31 === 1;
    for (let i = 0; i < (info & 0xffff); i++) {
      const m = at + 3 + 3 * i;
      const bits = bitfields ? words[m + 2] & 0xffffff : words[m + 2];
      if (words[m] === 0) {
        const inner = this.#member(this.#resolve(words[m + 1]), name);
        if (inner) return { offset: bits / 8 + inner.offset, type: inner.type };
      } else if (_nameIs(this.#names, words[m], name)) {
        return { offset: bits / 8, type: words[m + 1] };
      }
    }
    return null;
  }

  /** The record of type `id`, past typedefs and qualifiers. */
  #resolve(id: number): number {
    let at = this.#record(id);
    while (_SEE_THROUGH.has((this.#words[at + 1] >>> 24) & 0x1f)) {
      at = this.#record(this.#words[at + 2]);
    }
    return at;
  }

  #record(id: number): number {
    if (id >= this.#nextId) this.#readUntil(id);
    if (id === 0 || id >= this.#nextId) throw new BtfError(`kernel BTF has no type ${id}`);
    return this.#at[id];
  }
}

const _encoder = new TextEncoder();

function _nameIs(names: Uint8Array, offset: number, name: Uint8Array): boolean {
  if (names[offset] !== name[0]) return false;
  for (let i = 1; i < name.length; i++) if (names[offset + i] !== name[i]) return false;
  return names[offset + name.length] === 0;
}

/**
 * The BTF in `bytes` (the kernel's: see {@linkcode withKernelBtf}), ready to
 * answer for the functions and structs named. Throws a `BtfError` when the
 * bytes are no BTF.
 */
export function parseBtf(
  bytes: Uint8Array,
  wanted: { functions: string[]; structs: string[] },
): KernelBtf {
  const header = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 24 || header.getUint16(0, true) !== _MAGIC) {
    throw new BtfError("kernel BTF is not in the format opsd reads");
  }
  const headerLength = header.getUint32(4, true);
  const typesAt = headerLength + header.getUint32(8, true);
  const typesLength = header.getUint32(12, true);
  const namesAt = headerLength + header.getUint32(16, true);
  const names = bytes.subarray(namesAt, namesAt + header.getUint32(20, true));
  if ((bytes.byteOffset + typesAt) % 4 !== 0) throw new BtfError("kernel BTF types are unaligned");
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset + typesAt, typesLength / 4);
  return new KernelBtf(words, names, wanted);
}

/** How many words follow a type record's 3-word head, by kind. */
function _extraWords(kind: number, count: number): number {
  switch (kind) {
    case 1: // INT
    case 14: // VAR
    case 17: // DECL_TAG
      return 1;
    case 3: // ARRAY
      return 3;
    case 4: // STRUCT
    case 5: // UNION
    case 15: // DATASEC
    case 19: // ENUM64
      return 3 * count;
    case 6: // ENUM
    case 13: // FUNC_PROTO
      return 2 * count;
    default: // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
      return 0;
  }
}

/** Where the running kernel publishes its BTF (CONFIG_DEBUG_INFO_BTF). */
export const KERNEL_BTF_PATH = "/sys/kernel/btf/vmlinux";

/**
 * Runs `use` on the running kernel's BTF, indexed for `wanted` (see
 * {@linkcode parseBtf}). The file is mapped when the kernel allows it, else read
 * (~5 MB); `use` must return plain values (not null: that means "not mapped"),
 * not the index, which dies with the mapping. Throws when the kernel publishes
 * no BTF.
 */
export function withKernelBtf<T>(
  wanted: { functions: string[]; structs: string[] },
  use: (btf: KernelBtf) => T,
): T {
  const read = (bytes: Uint8Array) => use(parseBtf(bytes, wanted));
  return withMappedFile(KERNEL_BTF_PATH, read) ?? read(Deno.readFileSync(KERNEL_BTF_PATH));
}

/**
 * BPF iterators: a tiny program the kernel runs on each object it walks (each
 * open file of each task, for `bpf_iter_task_file`), whose output is read from
 * an fd like a file. opsd writes such programs with {@linkcode BpfAssembler}
 * (no compiler, no libbpf) and runs them with {@linkcode runIterator}.
 *
 * Loading needs CAP_BPF and CAP_PERFMON (or root) and a kernel with BTF
 * (5.8 and later, CONFIG_DEBUG_INFO_BTF); the errors name the bpf(2) command
 * and the errno (`bpf BPF_PROG_LOAD: EPERM (operation not permitted)`).
 *
 * @module
 */

import { addressOf, bpf, close, isErrno, read } from "./libc.ts";

/** bpf(2) commands (linux/bpf.h). */
const _CMD = { PROG_LOAD: 5, LINK_CREATE: 28, ITER_CREATE: 33 } as const;
const _PROG_TYPE_TRACING = 26, _TRACE_ITER = 28;

/** BPF registers by number: r0 result, r1-r5 arguments, r6-r9 kept across calls, r10 frame. */
export type BpfRegister = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

/** Access sizes of loads and stores, in bytes. */
export type BpfSize = 1 | 2 | 4 | 8;

const _SIZE_BITS: Record<BpfSize, number> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };
const _LDX = 0x61, _STX = 0x63, _JMP = 0x05, _JMP32 = 0x06;
const _JEQ = 0x10, _JNE = 0x50, _K = 0x00, _X = 0x08;

/**
 * Writes BPF instructions, with named labels for forward jumps. Only what
 * opsd's programs use: moves, loads, stores, a mask, compare-and-jump, helper
 * calls and exit.
 */
export class BpfAssembler {
  #code: bigint[] = [];
  #labels = new Map<string, number>();
  #jumps: { at: number; label: string }[] = [];

  #emit(op: number, dst: number, src: number, offset: number, imm: number): void {
    this.#code.push(
      BigInt(op) | BigInt(dst) << 8n | BigInt(src) << 12n |
        BigInt(offset & 0xffff) << 16n | BigInt(imm >>> 0) << 32n,
    );
  }

  /** `dst = src`, or `dst = imm` for a number (64-bit). */
  mov(dst: BpfRegister, source: BpfRegister | { imm: number }): this {
    if (typeof source === "number") this.#emit(0xbf, dst, source, 0, 0);
    else this.#emit(0xb7, dst, 0, 0, source.imm);
    return this;
  }

  /** `dst += imm` (64-bit). */
  add(dst: BpfRegister, imm: number): this {
    this.#emit(0x07, dst, 0, 0, imm);
    return this;
  }

  /** `dst &= imm` (32-bit). */
  and32(dst: BpfRegister, imm: number): this {
    this.#emit(0x54, dst, 0, 0, imm);
    return this;
  }

  /** `dst = *(size *)(src + offset)`. */
  load(size: BpfSize, dst: BpfRegister, src: BpfRegister, offset: number): this {
    this.#emit(_LDX | _SIZE_BITS[size], dst, src, offset, 0);
    return this;
  }

  /** `*(size *)(dst + offset) = src`. */
  store(size: BpfSize, dst: BpfRegister, offset: number, src: BpfRegister): this {
    this.#emit(_STX | _SIZE_BITS[size], dst, src, offset, 0);
    return this;
  }

  /** `dst = value`, a full 64-bit constant (two instruction slots). */
  loadConstant(dst: BpfRegister, value: bigint): this {
    this.#emit(0x18, dst, 0, 0, Number(value & 0xffffffffn));
    this.#emit(0, 0, 0, 0, Number((value >> 32n) & 0xffffffffn));
    return this;
  }

  /**
   * Jumps to `label` when `dst` is (`==`) or is not (`!=`) the register or
   * number `than`; `bits: 32` compares the low halves.
   */
  jumpIf(
    dst: BpfRegister,
    test: "==" | "!=",
    than: BpfRegister | { imm: number },
    label: string,
    bits: 32 | 64 = 64,
  ): this {
    const op = (bits === 32 ? _JMP32 : _JMP) | (test === "==" ? _JEQ : _JNE) |
      (typeof than === "number" ? _X : _K);
    this.#jumps.push({ at: this.#code.length, label });
    if (typeof than === "number") this.#emit(op, dst, than, 0, 0);
    else this.#emit(op, dst, 0, 0, than.imm);
    return this;
  }

  /** Jumps to `label`. */
  jump(label: string): this {
    this.#jumps.push({ at: this.#code.length, label });
    this.#emit(_JMP, 0, 0, 0, 0); // BPF_JA is 0
    return this;
  }

  /** Calls helper number `helper` (arguments in r1-r5, result in r0). */
  call(helper: number): this {
    this.#emit(0x85, 0, 0, 0, helper);
    return this;
  }

  /** Returns r0. */
  exit(): this {
    this.#emit(0x95, 0, 0, 0, 0);
    return this;
  }

  /** Names the next instruction. */
  label(name: string): this {
    this.#labels.set(name, this.#code.length);
    return this;
  }

  /** The instructions, jumps resolved. */
  build(): BigUint64Array<ArrayBuffer> {
    const code = [...this.#code];
    for (const { at, label } of this.#jumps) {
      const target = this.#labels.get(label);
      if (target === undefined) throw new Error(`BPF program: no label ${label}`);
      const offset = BigInt((target - at - 1) & 0xffff);
      code[at] = (code[at] & ~(0xffffn << 16n)) | offset << 16n;
    }
    return new BigUint64Array(code);
  }
}

/** Helper numbers (linux/bpf.h `___BPF_FUNC_MAPPER`). */
export const BPF_HELPER = { SEQ_WRITE: 127 } as const;

/** Offsets in the context of every iterator program: `ctx->meta->seq`, the output. */
export const ITER_META = 0, META_SEQ = 0;

/**
 * Loads `code` as an iterator program for the kernel's iterator function of
 * BTF id `iterator` (such as `bpf_iter_task_file`, see `KernelBtf.functionId`),
 * walks it once and returns everything it wrote, closing what it opened. A
 * program the verifier refuses fails with the verifier's last line.
 */
export function runIterator(code: BigUint64Array<ArrayBuffer>, iterator: number): Uint8Array {
  const program = _loadIterProgram(code, iterator);
  try {
    const linkAttr = new Uint8Array(64);
    const link = new DataView(linkAttr.buffer);
    link.setUint32(0, program, true);
    link.setUint32(8, _TRACE_ITER, true);
    const linkFd = bpf(_CMD.LINK_CREATE, "BPF_LINK_CREATE", linkAttr);
    try {
      const iterAttr = new Uint8Array(8);
      new DataView(iterAttr.buffer).setUint32(0, linkFd, true);
      const iterFd = bpf(_CMD.ITER_CREATE, "BPF_ITER_CREATE", iterAttr);
      try {
        return _readAll(iterFd);
      } finally {
        close(iterFd);
      }
    } finally {
      close(linkFd);
    }
  } finally {
    close(program);
  }
}

/** A license the kernel counts as GPL-compatible, which `bpf_seq_write` requires. */
const _LICENSE = new TextEncoder().encode("Dual MIT/GPL\0");

function _loadIterProgram(code: BigUint64Array<ArrayBuffer>, iterator: number): number {
  try {
    return bpf(_CMD.PROG_LOAD, "BPF_PROG_LOAD", _programAttr(code, iterator, null));
  } catch (error) {
    // Again with the verifier's log (not the first time: a log that overflows fails the load
    // on kernels before 6.4), to say why.
    const log = new Uint8Array(1 << 20);
    try {
      bpf(_CMD.PROG_LOAD, "BPF_PROG_LOAD", _programAttr(code, iterator, log));
    } catch {
      // The reason is the last line before the statistics ("processed N insns ...").
      const reason = new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0))))
        .trim().split("\n").findLast((line) =>
          !/^(processed \d+ insns|verification time)/.test(line)
        );
      if (reason && error instanceof Error) error.message += ` (verifier: ${reason})`;
    }
    throw error;
  }
}

/** `union bpf_attr` for BPF_PROG_LOAD of an iterator program; `log`: the verifier's, or none. */
function _programAttr(
  code: BigUint64Array<ArrayBuffer>,
  iterator: number,
  log: Uint8Array<ArrayBuffer> | null,
): Uint8Array<ArrayBuffer> {
  const attr = new Uint8Array(128);
  const view = new DataView(attr.buffer);
  view.setUint32(0, _PROG_TYPE_TRACING, true);
  view.setUint32(4, code.length, true);
  view.setBigUint64(8, addressOf(code), true);
  view.setBigUint64(16, addressOf(_LICENSE), true);
  if (log) {
    view.setUint32(24, 1, true);
    view.setUint32(28, log.length, true);
    view.setBigUint64(32, addressOf(log), true);
  }
  view.setUint32(68, _TRACE_ITER, true);
  view.setUint32(108, iterator, true);
  return attr;
}

/** Everything an iterator fd yields: a read that ends with EAGAIN only paused (a million objects). */
function _readAll(fd: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const buffer = new Uint8Array(1 << 16);
    let count: number;
    try {
      count = read(fd, buffer);
    } catch (error) {
      if (isErrno(error, "EAGAIN", "EINTR")) continue;
      throw error;
    }
    if (count === 0) break;
    chunks.push(buffer.subarray(0, count));
    total += count;
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

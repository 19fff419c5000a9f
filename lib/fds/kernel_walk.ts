/**
 * Who holds a socket, asked of the kernel itself: a BPF iterator program
 * (`bpf_iter_task_file`) visits every open file of every process inside the
 * kernel and writes out only the socket fds a query wants, so finding the
 * holders of a port costs one pass in kernel memory instead of one
 * `readlinkat` per fd of every process (`walk.ts`). On 2000 processes with 40,000
 * fds that is ~30 ms (the kernel's BTF read, two programs loaded and run)
 * instead of ~130-150.
 *
 * It answers the same question as the walk and in the same shape (a
 * {@linkcode WalkResult}) for socket-only queries, and only where the kernel
 * can: root (CAP_SYS_PTRACE, and CAP_SYS_ADMIN or CAP_BPF and CAP_PERFMON), a
 * kernel with BTF, and opsd in the initial pid namespace (the kernel names
 * processes by their pids there; in a container they would be other numbers). Anything else falls back to the walk.
 * `OPSD_FDS_BPF=0` never asks the kernel, `1` always does (failing loudly).
 *
 * @module
 */

import { BPF_HELPER, BpfAssembler, ITER_META, META_SEQ, runIterator } from "../sys/bpf.ts";
import { type KernelBtf, withKernelBtf } from "../sys/btf.ts";
import { CAP, effectiveCapabilities, hasEffectiveCapability } from "../procfs/capabilities.ts";
import { namespaceNumber, namespaceOf } from "../procfs/namespaces.ts";
import type { WalkResult, WalkWanted } from "./walk.ts";

/** The initial pid namespace's inode number (PROC_PID_INIT_INO, fixed in the kernel). */
const _INIT_PID_NAMESPACE = "pid:[4026531836]";
/** Below this many processes the walk costs less than loading the program (~15 ms). */
const _KERNEL_WALK_MIN = 1000;
/** More target sockets than this are not compared in the program: it writes every socket. */
const _MAX_COMPARED = 256;
/** One record the program writes: pid, fd, socket inode, network namespace (0: the reader's). */
const _RECORD = 24;
const _S_IFMT = 0o170000, _S_IFSOCK = 0o140000;

/** How the walk may be asked of the kernel (`OPSD_FDS_BPF`): never, always, or when it pays. */
function _mode(): "never" | "always" | "auto" {
  const configured = Deno.env.get("OPSD_FDS_BPF");
  return configured === "0" ? "never" : configured === "1" ? "always" : "auto";
}

/**
 * The socket fds `wanted` asks for among `pids`, found by the kernel (see the
 * module doc), with the processes it did not visit; or null when this query or
 * this machine is for the walk: the query names files too, there are few
 * processes, or the kernel refuses.
 *
 * @example
 * ```ts
 * const asked = kernelSocketWalk(pids, { inodes: [123456] });
 * // asked.found, and asked.unvisited for the walk; or null: walk them all
 * ```
 */
export function kernelSocketWalk(pids: number[], wanted: WalkWanted): KernelWalk | null {
  const mode = _mode();
  const socketsOnly = !wanted.everything && !wanted.paths?.length && !wanted.dirs?.length &&
    !wanted.fileInodes?.length;
  if (mode === "never" || !socketsOnly) return null;
  if (mode === "always") {
    try {
      return _walk(pids, wanted);
    } catch (error) {
      throw new Error(
        `OPSD_FDS_BPF=1: ${
          error instanceof Error ? error.message : error
        } (unset it to read /proc)`,
      );
    }
  }
  if (pids.length < _KERNEL_WALK_MIN || !_mayLoadPrograms()) return null;
  try {
    return _walk(pids, wanted);
  } catch {
    return null; // a kernel without BTF or iterators, lockdown, a seccomp filter: walk instead
  }
}

/**
 * Whether this process holds what loading a tracing program takes, and what the
 * /proc walk would need to read every process's fds (CAP_SYS_PTRACE: the rows are
 * described from /proc, as the walk's are, so both give the same answer).
 */
function _mayLoadPrograms(): boolean {
  const effective = effectiveCapabilities();
  const has = (cap: number) => hasEffectiveCapability(cap, effective);
  return has(CAP.SYS_PTRACE) && (has(CAP.SYS_ADMIN) || (has(CAP.BPF) && has(CAP.PERFMON)));
}

/**
 * Runs the two passes: the thread group leaders the kernel visits, then the
 * socket fds wanted (see {@linkcode _holdersProgram}).
 */
function _walk(pids: number[], wanted: WalkWanted): KernelWalk {
  if (namespaceOf("self", "pid") !== _INIT_PID_NAMESPACE) {
    throw new Error("the kernel names processes as the initial pid namespace does, not opsd's");
  }
  const ownNetns = wanted.netns === undefined ? null : namespaceNumber(wanted.netns);
  const targets = wanted.allSockets ? null : [...new Set(wanted.inodes ?? [])];
  const compared = targets && targets.length <= _MAX_COMPARED ? targets : null;
  const { holders, leaders } = withKernelBtf(_BTF_WANTED, (btf) => {
    const at = _offsets(btf);
    return {
      leaders: runIterator(_leadersProgram(at), btf.functionId("bpf_iter_task")),
      holders: runIterator(
        _holdersProgram(at, compared, ownNetns),
        btf.functionId("bpf_iter_task_file"),
      ),
    };
  });
  const visited = new Set(new Uint32Array(leaders.buffer, leaders.byteOffset, leaders.length / 4));
  return {
    found: _result(holders, new Set(pids), targets && new Set(targets)),
    unvisited: pids.filter((pid) => !visited.has(pid)),
  };
}

/** What the kernel found, and the processes it did not visit, for the /proc walk. */
export interface KernelWalk {
  found: WalkResult;
  /**
   * Processes asked about that the kernel's task iterator did not visit: started
   * since, or kept from it (seen on a sandbox's pid 1); the walk reads them.
   */
  unvisited: number[];
}

const _BTF_WANTED = {
  functions: ["bpf_iter_task_file", "bpf_iter_task"],
  structs: ["file", "inode", "task_struct", "nsproxy", "net"],
};

/** Where the program reads in the kernel's structs (from its BTF). */
interface _Offsets {
  fileInode: number;
  inodeMode: number;
  inodeNumber: number;
  taskPid: number;
  taskTgid: number;
  taskNsproxy: number;
  nsproxyNet: number;
  netNumber: number;
}

function _offsets(btf: KernelBtf): _Offsets {
  return {
    fileInode: btf.offsetOf("file", "f_inode"),
    inodeMode: btf.offsetOf("inode", "i_mode"),
    inodeNumber: btf.offsetOf("inode", "i_ino"),
    taskPid: btf.offsetOf("task_struct", "pid"),
    taskTgid: btf.offsetOf("task_struct", "tgid"),
    taskNsproxy: btf.offsetOf("task_struct", "nsproxy"),
    nsproxyNet: btf.offsetOf("nsproxy", "net_ns"),
    netNumber: btf.offsetOf("net", "ns.inum"),
  };
}

// The context of a task_file iterator program (struct bpf_iter__task_file); a task
// iterator's (struct bpf_iter__task) has its task at the same offset.
const _CTX_TASK = 8, _CTX_FD = 16, _CTX_FILE = 24;

/**
 * The iterator program: for each fd of a thread group's leader (other threads
 * share its table; one that unshared its own is out of reach of /proc/PID/fd
 * too) that is a socket, writes a record when the socket is one of `targets`
 * (every socket when null), or when its process is in another network
 * namespace than `ownNetns` (with the namespace; not asked when null).
 */
function _holdersProgram(
  at: _Offsets,
  targets: number[] | null,
  ownNetns: number | null,
): BigUint64Array<ArrayBuffer> {
  const bpf = new BpfAssembler()
    .mov(6, 1) // r6 = ctx
    .load(8, 7, 6, _CTX_FILE).jumpIf(7, "==", { imm: 0 }, "out") // r7 = file
    .load(8, 8, 6, _CTX_TASK).jumpIf(8, "==", { imm: 0 }, "out") // r8 = task
    .load(4, 2, 8, at.taskPid).load(4, 3, 8, at.taskTgid).jumpIf(2, "!=", 3, "out", 32)
    .load(8, 7, 7, at.fileInode).load(8, 9, 7, at.inodeNumber) // r7 = inode, r9 = its number
    .mov(4, { imm: 0 }); // r4 = the process's network namespace, 0 for the reader's
  if (ownNetns !== null) {
    bpf.load(8, 2, 8, at.taskNsproxy).load(8, 2, 2, at.nsproxyNet).load(4, 4, 2, at.netNumber)
      .jumpIf(4, "!=", { imm: ownNetns }, "namespace known", 32).mov(4, { imm: 0 })
      .label("namespace known");
  }
  if (targets !== null) {
    // Targets by number first: i_mode lies in another cache line, read only for a candidate.
    for (const inode of targets) bpf.loadConstant(2, BigInt(inode)).jumpIf(9, "==", 2, "socket");
    if (ownNetns !== null) bpf.jumpIf(4, "!=", { imm: 0 }, "socket", 32);
    bpf.jump("out");
  }
  return bpf
    .label("socket") // a socket's inode (another filesystem's file may share the number)?
    .load(2, 3, 7, at.inodeMode).and32(3, _S_IFMT).jumpIf(3, "!=", { imm: _S_IFSOCK }, "out", 32)
    // The record on the stack: pid, fd, inode, namespace, padding.
    .load(4, 3, 8, at.taskTgid).store(4, 10, -24, 3)
    .load(4, 3, 6, _CTX_FD).store(4, 10, -20, 3)
    .store(8, 10, -16, 9)
    .store(4, 10, -8, 4).mov(3, { imm: 0 }).store(4, 10, -4, 3)
    .load(8, 1, 6, ITER_META).load(8, 1, 1, META_SEQ)
    .mov(2, 10).add(2, -_RECORD).mov(3, { imm: _RECORD }).call(BPF_HELPER.SEQ_WRITE)
    .label("out").mov(0, { imm: 0 }).exit()
    .build();
}

/** A task iterator program that writes the pid of each thread group's leader (4 bytes). */
function _leadersProgram(at: _Offsets): BigUint64Array<ArrayBuffer> {
  return new BpfAssembler()
    .mov(6, 1)
    .load(8, 8, 6, _CTX_TASK).jumpIf(8, "==", { imm: 0 }, "out")
    .load(4, 2, 8, at.taskPid).load(4, 3, 8, at.taskTgid).jumpIf(2, "!=", 3, "out", 32)
    .store(4, 10, -4, 3)
    .load(8, 1, 6, ITER_META).load(8, 1, 1, META_SEQ)
    .mov(2, 10).add(2, -4).mov(3, { imm: 4 }).call(BPF_HELPER.SEQ_WRITE)
    .label("out").mov(0, { imm: 0 }).exit()
    .build();
}

/** The records as the walk reports them, for the processes in `pids` only. */
function _result(output: Uint8Array, pids: Set<number>, targets: Set<number> | null): WalkResult {
  const view = new DataView(output.buffer, output.byteOffset, output.byteLength);
  const sockets: number[] = [];
  const foreign = new Map<number, string>();
  for (let at = 0; at + _RECORD <= output.length; at += _RECORD) {
    const pid = view.getUint32(at, true), fd = view.getUint32(at + 4, true);
    const inode = Number(view.getBigUint64(at + 8, true)), netns = view.getUint32(at + 16, true);
    if (!pids.has(pid)) continue;
    if (netns !== 0) foreign.set(pid, `net:[${netns}]`);
    else if (targets && !targets.has(inode)) continue; // written as one of every socket
    sockets.push(pid, fd, inode);
  }
  return { sockets, links: [], denied: [], deniedLinks: [], foreignNetns: [...foreign] };
}

import assert from "node:assert/strict";
import { BpfAssembler, runIterator } from "../../lib/sys/bpf.ts";
import { KERNEL_BTF_PATH, withKernelBtf } from "../../lib/sys/btf.ts";

Deno.test("BpfAssembler encodes instructions as the kernel reads them and resolves jumps to labels", () => {
  const code = new BpfAssembler()
    .mov(6, 1) // 0: bf 16 0000 00000000
    .jumpIf(6, "==", { imm: 0 }, "out") // 1: 15 06 +2
    .load(4, 2, 6, 16) // 2: 61 62 0010
    .store(8, 10, -8, 2) // 3: 7b 2a fff8
    .label("out").mov(0, { imm: 0 }).exit()
    .build();
  assert.deepEqual([...code].map((insn) => insn.toString(16).padStart(16, "0")), [
    "00000000000016bf",
    "0000000000020615",
    "0000000000106261",
    "00000000fff82a7b",
    "00000000000000b7",
    "0000000000000095",
  ]);
  const wide = new BpfAssembler().loadConstant(2, 0x1_0000_0002n).build();
  assert.deepEqual([...wide], [0x0000000200000218n, 0x0000000100000000n]);
  assert.throws(() => new BpfAssembler().jump("nowhere").build(), /no label nowhere/);
});

const CAN_LOAD = Deno.uid() === 0 && (() => {
  try {
    return Deno.statSync(KERNEL_BTF_PATH).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "runIterator runs a program over every open file and says the verifier's reason when refused",
  ignore: !CAN_LOAD,
  fn() {
    const iterator = withKernelBtf(
      { functions: ["bpf_iter_task_file"], structs: [] },
      (btf) => btf.functionId("bpf_iter_task_file"),
    );
    const quiet = new BpfAssembler().mov(0, { imm: 0 }).exit().build();
    assert.deepEqual(runIterator(quiet, iterator), new Uint8Array());
    // Reads the context past its end: refused, with the verifier's line.
    const bad = new BpfAssembler().load(8, 2, 1, 4096).mov(0, { imm: 0 }).exit().build();
    assert.throws(
      () => runIterator(bad, iterator),
      /^SysError: bpf BPF_PROG_LOAD: EACCES \(permission denied\) \(verifier: .+\)$/,
    );
  },
});

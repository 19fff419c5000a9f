import assert from "node:assert/strict";
import { BtfError, KERNEL_BTF_PATH, parseBtf, withKernelBtf } from "../../lib/sys/btf.ts";

/** A BTF blob of `types` (each a list of words, names given as strings) as the kernel lays it out. */
function btfOf(types: (number | string)[][]): Uint8Array {
  const names = ["", ...new Set(types.flat().filter((w): w is string => typeof w === "string"))];
  const offsets = new Map<string, number>();
  let length = 0;
  for (const name of names) {
    offsets.set(name, length);
    length += name.length + 1;
  }
  const words = types.flat().map((w) => typeof w === "string" ? offsets.get(w)! : w);
  const typeBytes = words.length * 4, header = 24;
  const bytes = new Uint8Array(header + typeBytes + length);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, 0xeb9f, true);
  view.setUint8(2, 1);
  view.setUint32(4, header, true);
  view.setUint32(8, 0, true);
  view.setUint32(12, typeBytes, true);
  view.setUint32(16, typeBytes, true);
  view.setUint32(20, length, true);
  words.forEach((word, i) => view.setUint32(header + 4 * i, word, true));
  bytes.set(new TextEncoder().encode(names.join("\0") + "\0"), header + typeBytes);
  return bytes;
}

const kind = (k: number, count = 0, bitfields = false) =>
  ((bitfields ? 1 : 0) << 31 | k << 24 | count) >>> 0;

const SAMPLE = btfOf([
  /* 1 */ ["int", kind(1), 4, 32],
  /* 2 */ ["inner", kind(4, 1), 8, "inum", 1, 32],
  /* 3 */ [0, kind(5, 2), 8, "a", 1, 0, "ns", 5, 0], // anonymous union
  /* 4 */ ["outer", kind(4, 2), 16, "first", 1, 0, 0, 3, 64],
  /* 5 */ ["inner_t", kind(8), 2], // typedef
  /* 6 */ [0, kind(13), 1], // FUNC_PROTO, no parameters
  /* 7 */ ["bpf_iter_x", kind(12), 6],
  /* 8 */ ["bits", kind(4, 1, true), 8, "flag", 1, (1 << 24 | 40) >>> 0],
]);

Deno.test("parseBtf finds functions by name and member offsets through anonymous unions, typedefs and bitfields", () => {
  const btf = parseBtf(SAMPLE, { functions: ["bpf_iter_x"], structs: ["outer", "inner", "bits"] });
  assert.equal(btf.functionId("bpf_iter_x"), 7);
  assert.equal(btf.offsetOf("outer", "first"), 0);
  assert.equal(btf.offsetOf("outer", "a"), 8);
  assert.equal(btf.offsetOf("outer", "ns.inum"), 12);
  assert.equal(btf.offsetOf("inner", "inum"), 4);
  assert.equal(btf.offsetOf("bits", "flag"), 5);
});

Deno.test("parseBtf says what is missing, and refuses bytes that are no BTF", () => {
  const btf = parseBtf(SAMPLE, { functions: ["bpf_iter_y"], structs: ["outer", "nothing"] });
  assert.throws(() => btf.functionId("bpf_iter_y"), /^BtfError: kernel has no function bpf_iter_y/);
  assert.throws(() => btf.offsetOf("nothing", "x"), /kernel has no struct nothing/);
  assert.throws(
    () => btf.offsetOf("outer", "ns.missing"),
    /struct outer has no member ns\.missing/,
  );
  assert.throws(() => parseBtf(new Uint8Array(64), { functions: [], structs: [] }), BtfError);
});

Deno.test({
  name:
    "withKernelBtf reads the running kernel's: the task_file iterator and task_struct's pid beside tgid",
  ignore: (() => {
    try {
      return !Deno.statSync(KERNEL_BTF_PATH).isFile;
    } catch {
      return true;
    }
  })(),
  fn() {
    const found = withKernelBtf(
      { functions: ["bpf_iter_task_file"], structs: ["task_struct", "net"] },
      (btf) => ({
        iterator: btf.functionId("bpf_iter_task_file"),
        pid: btf.offsetOf("task_struct", "pid"),
        tgid: btf.offsetOf("task_struct", "tgid"),
        inum: btf.offsetOf("net", "ns.inum"),
      }),
    );
    assert.ok(found.iterator > 0);
    assert.equal(found.tgid, found.pid + 4); // pid_t pid; pid_t tgid;
    assert.ok(found.inum > 0);
  },
});

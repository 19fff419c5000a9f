import assert from "node:assert/strict";
import { kernelSocketWalk } from "../../lib/fds/kernel_walk.ts";
import { walkProcesses, type WalkResult, type WalkWanted } from "../../lib/fds/walk.ts";
import { KERNEL_BTF_PATH } from "../../lib/sys/btf.ts";
import { opsdArgv } from "../../lib/self.ts";
import {
  CAN_UNSHARE_NET,
  CAN_UNSHARE_PID,
  IN_OTHER_NETNS,
  runOpsd,
  startHolder,
  tempDir,
} from "../fixtures/mod.ts";

/** Whether this machine lets opsd ask the kernel (root, BTF, bpf(2) allowed). */
const KERNEL_ANSWERS = Deno.uid() === 0 && (() => {
  try {
    Deno.statSync(KERNEL_BTF_PATH);
    return _forced("1", () => kernelSocketWalk([Deno.pid], { allSockets: true })) !== null;
  } catch {
    return false;
  }
})();

/** Runs `fn` with `OPSD_FDS_BPF` set to `mode`, restoring it afterwards. */
function _forced<T>(mode: string, fn: () => T): T {
  const before = Deno.env.get("OPSD_FDS_BPF");
  Deno.env.set("OPSD_FDS_BPF", mode);
  try {
    return fn();
  } finally {
    if (before === undefined) Deno.env.delete("OPSD_FDS_BPF");
    else Deno.env.set("OPSD_FDS_BPF", before);
  }
}

/** What the walk and the kernel each find, sockets as sorted `pid fd inode` strings. */
async function bothWays(pids: number[], wanted: WalkWanted) {
  const shape = (found: WalkResult) => ({
    sockets: Array.from(
      { length: found.sockets.length / 3 },
      (_, i) => found.sockets.slice(3 * i, 3 * i + 3).join(" "),
    ).sort(),
    foreignNetns: [...found.foreignNetns].sort(),
  });
  const walked = await _forced("0", () => walkProcesses(pids, wanted));
  const asked = _forced("1", () => kernelSocketWalk(pids, wanted));
  assert.ok(asked, "the kernel answers when forced");
  return { walked: shape(walked), asked: shape(asked.found), unvisited: asked.unvisited };
}

/** The socket inodes `pid` holds, by fd. */
function socketInodes(pid: number): Map<number, number> {
  const inodes = new Map<number, number>();
  for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
    const link = Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`);
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
    if (inode) inodes.set(Number(entry.name), Number(inode));
  }
  return inodes;
}

Deno.test({
  name:
    "the kernel finds the same holders of socket inodes as the walk: a shared listener, every socket, none of other processes",
  ignore: !KERNEL_ANSWERS,
  async fn() {
    await using dir = await tempDir();
    await using holder = await startHolder(dir.path);
    const pids = [holder.pid, holder.child];
    const held = socketInodes(holder.pid);
    const listener = held.get(holder.fds.tcp4)!;
    const leaky = socketInodes(holder.child).get(3)!; // the child's inherited listener
    const some = await bothWays(pids, { inodes: [listener, leaky, held.get(holder.fds.udp)!] });
    assert.deepEqual(some.asked, some.walked);
    assert.ok(some.asked.sockets.includes(`${holder.pid} ${holder.fds.tcp4} ${listener}`));
    const every = await bothWays(pids, { allSockets: true });
    assert.deepEqual(every.asked, every.walked);
    assert.equal(
      every.asked.sockets.filter((s) => s.startsWith(`${holder.pid} `)).length,
      held.size,
    );
    // More targets than the program compares: it writes every socket, the rest is left out here.
    const many = [...held.values(), ...Array.from({ length: 300 }, (_, i) => 1 + i)];
    const all = await bothWays(pids, { inodes: many });
    assert.deepEqual(all.asked, all.walked);
    assert.deepEqual(all.unvisited, []);
    // Only the processes asked about; one that is none is left to the walk (which skips it).
    const gone = 2 ** 22 + 12345; // above pid_max
    const none = await bothWays([Deno.pid, gone], { inodes: [listener] });
    assert.deepEqual(none.asked.sockets, []);
    assert.deepEqual(none.unvisited, [gone]);
  },
});

Deno.test({
  name:
    "the kernel finds the sockets of a process in another network namespace, with the namespace, as the walk does",
  ignore: !KERNEL_ANSWERS || !CAN_UNSHARE_NET,
  async fn() {
    await using dir = await tempDir();
    await using holder = await startHolder(dir.path, IN_OTHER_NETNS);
    const own = Deno.readLinkSync("/proc/self/ns/net");
    const found = await bothWays([holder.pid, holder.child, Deno.pid], { inodes: [], netns: own });
    assert.deepEqual(found.asked, found.walked);
    const theirs = Deno.readLinkSync(`/proc/${holder.pid}/ns/net`);
    assert.ok(found.asked.foreignNetns.some(([pid, ns]) => pid === holder.pid && ns === theirs));
    assert.equal(
      found.asked.sockets.filter((s) => s.startsWith(`${holder.pid} `)).length,
      socketInodes(holder.pid).size,
    );
  },
});

Deno.test({
  name: "opsd fds shows the same rows whether the kernel or the walk finds a port's holders",
  ignore: !KERNEL_ANSWERS,
  async fn() {
    await using dir = await tempDir();
    await using holder = await startHolder(dir.path);
    for (const port of [holder.ports.tcp4, holder.ports.dualStack, holder.ports.udp]) {
      const args = ["fds", "--json", "--port", String(port)];
      const walked = await runOpsd(args, { env: { OPSD_FDS_BPF: "0" } });
      const asked = await runOpsd(args, { env: { OPSD_FDS_BPF: "1" } });
      assert.equal(asked.code, 0, asked.stderr);
      assert.deepEqual(asked.stdout, walked.stdout);
      assert.ok(asked.stdout.includes(`"pid":${holder.pid}`));
    }
    const listeners = ["fds", "--json", "--listen", "--tcp", "-p", String(holder.child)];
    const [walked, asked] = await Promise.all(
      ["0", "1"].map((mode) => runOpsd(listeners, { env: { OPSD_FDS_BPF: mode } })),
    );
    assert.deepEqual(asked.stdout, walked.stdout);
  },
});

Deno.test({
  name:
    "OPSD_FDS_BPF=1 in a pid namespace of its own fails with one line: the kernel's pids are not /proc's",
  ignore: !KERNEL_ANSWERS || !CAN_UNSHARE_PID,
  async fn() {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = String((listener.addr as Deno.NetAddr).port);
    const [program, ...args] = opsdArgv(["fds", "--port", port]);
    const run = await new Deno.Command("unshare", {
      args: ["--pid", "--fork", "--mount-proc", program, ...args],
      env: { OPSD_FDS_BPF: "1" },
    }).output();
    const stderr = new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 1, stderr);
    assert.match(
      stderr,
      /^opsd fds: OPSD_FDS_BPF=1: the kernel names processes as the initial pid namespace does, not opsd's \(unset it to read \/proc\)\n$/,
    );
  },
});

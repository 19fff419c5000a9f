import assert from "node:assert/strict";
import { findLeaks, type LeakInput, type LeakProcess } from "../../lib/fds/leaks.ts";

const LISTENER = 100, CONNECTED = 200;

function process(pid: number, ppid: number, exe: string, extra: Partial<LeakProcess> = {}) {
  return {
    pid,
    ppid,
    command: exe,
    exe: `/usr/bin/${exe}`,
    ageMs: 3_600_000,
    handedOver: null,
    ...extra,
  };
}

function leaks(input: Partial<LeakInput> & Pick<LeakInput, "sockets">) {
  const found = findLeaks({
    processes: new Map([[10, process(10, 1, "server")], [11, process(11, 10, "helper")]]),
    isListener: (inode) => inode === LISTENER,
    cloexec: () => true,
    minAgeMs: 60_000,
    ...input,
  });
  return Object.fromEntries([...found].map(([key, list]) => [key, list.map((l) => l.kind)]));
}

Deno.test("findLeaks: a listening socket on two fds of one process is a duplicate", () => {
  assert.deepEqual(leaks({ sockets: [10, 3, LISTENER, 10, 7, LISTENER] }), {
    "10:7": ["duplicate"],
  });
});

Deno.test("findLeaks: close-on-exec copies of a connected socket are not reported, a leaky copy is", () => {
  assert.deepEqual(leaks({ sockets: [10, 6, CONNECTED, 10, 8, CONNECTED] }), {});
  const leakyCopy = leaks({
    sockets: [10, 6, CONNECTED, 10, 8, CONNECTED],
    cloexec: (_pid, fd) => fd !== 8,
  });
  assert.deepEqual(leakyCopy, { "10:8": ["duplicate", "no-cloexec"] });
});

Deno.test("findLeaks: a socket on stdin and stdout only (inetd style) is not a duplicate", () => {
  assert.deepEqual(leaks({ sockets: [10, 0, LISTENER, 10, 1, LISTENER] }), {});
});

Deno.test("findLeaks: a listener shared with a parent that runs another program was inherited", () => {
  const found = leaks({ sockets: [10, 3, LISTENER, 11, 3, LISTENER] });
  assert.deepEqual(found, { "11:3": ["inherited-listener"] });
});

Deno.test("findLeaks: pre-fork workers (same program) and LISTEN_FDS hand-overs are intended", () => {
  const preFork = new Map([[10, process(10, 1, "nginx")], [11, process(11, 10, "nginx")]]);
  assert.deepEqual(leaks({ sockets: [10, 3, LISTENER, 11, 3, LISTENER], processes: preFork }), {});
  const activated = new Map([
    [10, process(10, 1, "server")],
    [11, process(11, 10, "helper", { handedOver: [3, 1] })],
  ]);
  assert.deepEqual(
    leaks({
      sockets: [10, 3, LISTENER, 11, 3, LISTENER],
      processes: activated,
      cloexec: () => false,
    }),
    { "10:3": ["no-cloexec"] },
  );
});

Deno.test("findLeaks: sockets without close-on-exec count only in processes older than the age", () => {
  const young = new Map([[10, process(10, 1, "server", { ageMs: 5_000 })]]);
  const input = { sockets: [10, 0, LISTENER, 10, 4, CONNECTED], cloexec: () => false };
  assert.deepEqual(leaks({ ...input, processes: young }), {});
  assert.deepEqual(leaks({ ...input, processes: young, minAgeMs: 0 }), { "10:4": ["no-cloexec"] });
});

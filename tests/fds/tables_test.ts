import assert from "node:assert/strict";
import { type SocketSelection, SocketTables } from "../../lib/fds/tables.ts";
import { tempDir } from "../fixtures/mod.ts";
import { bind, close, getsockname, socket } from "../../lib/sys/libc.ts";
import { SOCK } from "../../lib/sys/constants.ts";

const selection = (port: number): SocketSelection => ({
  ports: [{ first: port, last: port }],
  protocols: ["tcp"],
  listening: true,
  inet: true,
  unixPaths: [],
  unixDirs: [],
  anyUnix: false,
});

Deno.test("SocketTables.stillOpen: a target closed since it was found is open no more", () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const tables = new SocketTables();
  let closed = false;
  try {
    const targets = tables.targets(selection(port), tables.own, { own: true });
    assert.equal(targets.length, 1);
    assert.deepEqual([...tables.stillOpen(targets)], targets);
    listener.close();
    closed = true;
    assert.deepEqual([...tables.stillOpen(targets)], []);
    assert.deepEqual([...tables.stillOpen([])], []);
  } finally {
    if (!closed) listener.close();
  }
});

Deno.test("SocketTables: a unix target's owner comes from sock_diag in opsd's namespace (found and read again by stillOpen), unknown elsewhere", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/app.sock`;
  const unix = {
    ports: [],
    protocols: [],
    listening: false,
    inet: false,
    unixPaths: [path],
    unixDirs: [],
    anyUnix: false,
  };
  const listener = Deno.listen({ transport: "unix", path });
  let closed = false;
  try {
    for (const source of [{ own: true } as const, { own: false, pid: Deno.pid } as const]) {
      const tables = new SocketTables();
      const targets = tables.targets(unix, source.own ? tables.own : "other", source);
      assert.equal(targets.length, 1);
      // Another namespace is read through /proc/PID/net/unix, which tells no owner.
      const uid = source.own ? Deno.uid() : null;
      const before = tables.byInode.get(targets[0]);
      assert.deepEqual([before?.kind, before?.kind === "unix" && before.socket.uid], ["unix", uid]);
      assert.deepEqual([...tables.stillOpen(targets)], targets);
      assert.deepEqual(tables.byInode.get(targets[0]), before);
    }
    const tables = new SocketTables();
    const targets = tables.targets(unix, tables.own, { own: true });
    listener.close();
    closed = true;
    assert.deepEqual([...tables.stillOpen(targets)], []);
  } finally {
    if (!closed) listener.close();
  }
});

Deno.test("SocketTables.targets: listening keeps unix listeners, by path or of any path", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/app.sock`;
  using listener = Deno.listen({ transport: "unix", path });
  using client = await Deno.connect({ transport: "unix", path });
  using accepted = await listener.accept();
  // Num RefCount Protocol Flags(__SO_ACCEPTCON: listening) Type St Inode Path
  const listenerInode = Number(
    Deno.readTextFileSync("/proc/net/unix").split("\n")
      .find((line) => line.endsWith(` ${path}`) && / 00010000 /.test(line))
      ?.trim().split(/ +/)[6],
  );
  assert.ok(listenerInode, "the listener's inode");
  const find = (selection: Partial<SocketSelection>) => {
    const tables = new SocketTables();
    const all: SocketSelection = {
      ports: [],
      protocols: [],
      listening: false,
      inet: false,
      unixPaths: [],
      unixDirs: [],
      anyUnix: false,
      ...selection,
    };
    return tables.targets(all, tables.own, { own: true });
  };
  // The accepted connection bears the listener's path too: only --listen tells them apart.
  assert.equal(find({ unixPaths: [path] }).length, 2);
  assert.deepEqual(find({ unixPaths: [path], listening: true }), [listenerInode]);
  // Bound below a directory (--dir): the same two; not below one that only shares its prefix.
  assert.deepEqual(find({ unixDirs: [dir.path] }).sort(), find({ unixPaths: [path] }).sort());
  assert.deepEqual(find({ unixDirs: [dir.path], listening: true }), [listenerInode]);
  assert.deepEqual(find({ unixDirs: [dir.path.slice(0, -1)] }), []);
  const listeners = find({ anyUnix: true, listening: true });
  assert.ok(listeners.includes(listenerInode));
  assert.ok(listeners.length < find({ anyUnix: true }).length, "connected sockets are left out");
  assert.ok(client && accepted);
});

Deno.test("SocketTables.isListener counts as --listen does: a bound, unconnected UDP socket too", () => {
  const udp = socket(SOCK.AF_INET, SOCK.DGRAM | SOCK.CLOEXEC);
  bind(udp, { family: "ipv4", address: "127.0.0.1", port: 0 });
  const { port } = getsockname(udp) as { port: number };
  const tables = new SocketTables();
  try {
    const [inode] = tables.targets(
      { ...selection(port), protocols: ["udp"] },
      tables.own,
      { own: true },
    );
    assert.ok(inode > 0);
    assert.equal(tables.isListener(inode), true);
  } finally {
    close(udp);
  }
});

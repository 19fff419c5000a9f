import assert from "node:assert/strict";
import { dumpInetSockets, dumpUnixSockets, type UnixDiagSocket } from "../../lib/sys/sock_diag.ts";
import { isUnixListener, parseInetTable, parseUnixTable } from "../../lib/procfs/net.ts";
import { bind, close, connect, getsockname, listen, socket } from "../../lib/sys/libc.ts";
import { SOCK } from "../../lib/sys/constants.ts";
import { tempDir, unusedSocketInode } from "../fixtures/mod.ts";

Deno.test("dumpInetSockets finds a listener by port, with the inode /proc/net/tcp shows", () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const found = dumpInetSockets("tcp", "ipv4", { ports: { first: port, last: port } });
    assert.equal(found.length, 1);
    assert.deepEqual(
      { address: found[0].localAddress, port: found[0].localPort, state: found[0].state },
      { address: "127.0.0.1", port, state: 10 },
    );
    const table = parseInetTable(Deno.readTextFileSync("/proc/net/tcp"), "tcp", "ipv4");
    assert.deepEqual(table.find((s) => s.localPort === port), found[0]);
    const ports = { first: port, last: port };
    assert.deepEqual(dumpInetSockets("tcp", "ipv4", { ports, states: 1 << 1 }), []);
  } finally {
    listener.close();
  }
});

Deno.test("dumpInetSockets with a port range finds sockets by local or remote port within it", () => {
  const server = socket(SOCK.AF_INET, SOCK.STREAM | SOCK.CLOEXEC);
  const client = socket(SOCK.AF_INET, SOCK.STREAM | SOCK.CLOEXEC);
  try {
    bind(server, { family: "ipv4", address: "127.0.0.1", port: 0 });
    listen(server);
    const { port } = getsockname(server) as { port: number };
    connect(client, { family: "ipv4", address: "127.0.0.1", port });
    const { port: clientPort } = getsockname(client) as { port: number };
    const sockets = (first: number, last: number) =>
      dumpInetSockets("tcp", "ipv4", { ports: { first, last } })
        .filter((s) => [s.localPort, s.remotePort].some((p) => p === port || p === clientPort))
        .map((s) => `${s.localPort}>${s.remotePort}`).sort();
    // The listener, the client (remote port) and the accepted side (local port).
    const all = [`${port}>0`, `${clientPort}>${port}`, `${port}>${clientPort}`].sort();
    assert.deepEqual(sockets(port - 1, port + 1), all);
    assert.deepEqual(sockets(port, port), all);
    // A range with the client's port and not the listener's: the connection, both sides.
    const [first, last] = clientPort < port ? [1, clientPort] : [clientPort, 65535];
    assert.deepEqual(
      sockets(first, last),
      [`${clientPort}>${port}`, `${port}>${clientPort}`].sort(),
    );
  } finally {
    close(client);
    close(server);
  }
});

Deno.test("dumpInetSockets reports UDP sockets over IPv6", () => {
  const fd = socket(SOCK.AF_INET6, SOCK.DGRAM | SOCK.CLOEXEC);
  try {
    bind(fd, { family: "ipv6", address: "::1", port: 0 });
    const { port } = getsockname(fd) as { port: number };
    const [found] = dumpInetSockets("udp", "ipv6", { ports: { first: port, last: port } });
    assert.equal(found.localAddress, "::1");
    assert.equal(found.protocol, "udp");
    assert.ok(found.inode > 0);
  } finally {
    close(fd);
  }
});

Deno.test("dumpUnixSockets agrees with /proc/net/unix on inodes, paths, types and states", async () => {
  await using dir = await tempDir();
  const abstract = `\0opsd-sock-diag-${Deno.pid}`;
  const fds: number[] = [];
  const open = (type: number, address?: string, action?: "listen" | "connect") => {
    const fd = socket(SOCK.AF_UNIX, type | SOCK.CLOEXEC);
    fds.push(fd);
    if (action === "connect") connect(fd, { family: "unix", path: address! });
    else if (address) bind(fd, { family: "unix", path: address });
    if (action === "listen") listen(fd);
  };
  try {
    open(SOCK.STREAM, `${dir.path}/stream.sock`, "listen");
    open(SOCK.STREAM, `${dir.path}/stream.sock`, "connect"); // and an embryo: not accepted
    open(SOCK.DGRAM, `${dir.path}/with space.sock`);
    open(SOCK.STREAM, abstract, "listen");
    open(SOCK.DGRAM);
    const ours = (s: UnixDiagSocket) => s.path.startsWith(dir.path) || s.path.startsWith("@opsd");
    const inodes = new Set<number>();
    for (const fd of fds) inodes.add(Deno.statSync(`/proc/self/fd/${fd}`).ino!);
    const pick = (sockets: UnixDiagSocket[]) =>
      sockets.filter((s) => ours(s) || inodes.has(s.inode))
        .map(({ inode, path, type, state }) => ({ inode, path, type, state }))
        .sort((a, b) => a.inode - b.inode || a.path.localeCompare(b.path));
    const dumped = dumpUnixSockets();
    const table = parseUnixTable(Deno.readTextFileSync("/proc/net/unix"));
    // sock_diag leaves out the sockets no file holds (inode 0): the connection not yet accepted.
    assert.deepEqual(pick(dumped), pick(table).filter((s) => s.inode !== 0));
    assert.ok(pick(table).some((s) => s.inode === 0 && s.state === "CONNECTING"));
    assert.deepEqual(pick(dumped).map((s) => `${s.type} ${s.state}`).sort(), [
      "DGRAM UNCONNECTED",
      "DGRAM UNCONNECTED",
      "STREAM CONNECTED",
      "STREAM LISTEN",
      "STREAM LISTEN",
    ]);
    assert.ok(pick(dumped).some((s) => s.path === `@${abstract.slice(1)}@`)); // bound with its NUL
    assert.ok(dumped.filter(ours).every((s) => s.uid === Deno.uid()));
    // With inodes, only those: a few are asked for one by one (none for an inode nobody has).
    const [first] = inodes;
    const phantom = unusedSocketInode();
    assert.deepEqual(dumpUnixSockets({ inodes: new Set([first, phantom]) }).map((s) => s.inode), [
      first,
    ]);
    assert.deepEqual(pick(dumpUnixSockets({ inodes })), pick(dumped));
    // Many are taken from a dump of all: the same answer.
    const many = new Set([...inodes, ...Array.from({ length: 20 }, (_, i) => phantom + i + 1)]);
    assert.deepEqual(pick(dumpUnixSockets({ inodes: many })), pick(dumped));
    // Listeners only, by dump (the kernel filters) or one by one: the two in LISTEN, and the
    // datagram socket bound to a path, without a peer.
    const listeners = pick(dumped.filter(isUnixListener));
    assert.equal(listeners.length, 3);
    assert.deepEqual(pick(dumpUnixSockets({ listening: true })), listeners);
    assert.deepEqual(pick(dumpUnixSockets({ inodes, listening: true })), listeners);
  } finally {
    for (const fd of fds) close(fd);
  }
});

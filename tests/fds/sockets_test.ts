import assert from "node:assert/strict";
import {
  inetName,
  isListening,
  netlinkName,
  type NetnsSource,
  packetName,
  packetProtocolName,
  rawName,
  readUnixOwners,
  readUnixSockets,
  type UnixFilter,
  unixName,
} from "../../lib/fds/sockets.ts";
import { type InetSocket, parseUnixTable } from "../../lib/procfs/net.ts";
import { bind, close, listen, socket } from "../../lib/sys/libc.ts";
import { SOCK } from "../../lib/sys/constants.ts";
import { forgingUnixPath, tempDir, unusedSocketInode } from "../fixtures/mod.ts";

function inet(fields: Partial<InetSocket>): InetSocket {
  return {
    protocol: "tcp",
    family: "ipv4",
    localAddress: "127.0.0.1",
    localPort: 9999,
    remoteAddress: "0.0.0.0",
    remotePort: 0,
    state: 10,
    inode: 1,
    uid: 0,
    ...fields,
  };
}

Deno.test("inetName prints sockets as lsof -nP does", () => {
  assert.equal(inetName(inet({})), "127.0.0.1:9999 (LISTEN)");
  assert.equal(inetName(inet({ localAddress: "0.0.0.0" })), "*:9999 (LISTEN)");
  assert.equal(
    inetName(inet({ family: "ipv6", localAddress: "::", remoteAddress: "::" })),
    "*:9999 (LISTEN)",
  );
  assert.equal(
    inetName(inet({ family: "ipv6", localAddress: "::1", remoteAddress: "::" })),
    "[::1]:9999 (LISTEN)",
  );
  assert.equal(
    inetName(inet({ remoteAddress: "127.0.0.1", remotePort: 40000, state: 1 })),
    "127.0.0.1:9999->127.0.0.1:40000 (ESTABLISHED)",
  );
  // The accepted side of a dual-stack listener: v4-mapped addresses print as IPv4.
  assert.equal(
    inetName(inet({
      family: "ipv6",
      localAddress: "::ffff:127.0.0.1",
      remoteAddress: "::ffff:127.0.0.1",
      remotePort: 40000,
      state: 1,
    })),
    "127.0.0.1:9999->127.0.0.1:40000 (ESTABLISHED)",
  );
  assert.equal(inetName(inet({ protocol: "udp", state: 7 })), "127.0.0.1:9999");
});

Deno.test("isListening: TCP in LISTEN, UDP bound and not connected", () => {
  assert.ok(isListening(inet({})));
  assert.ok(!isListening(inet({ state: 1 })));
  assert.ok(isListening(inet({ protocol: "udp", state: 7 })));
  assert.ok(!isListening(inet({ protocol: "udp", state: 1, remotePort: 53 })));
});

Deno.test("unixName prints path, type and state", () => {
  const socket = { inode: 1, kernelAddress: "0x0", type: "STREAM", state: "LISTEN" };
  assert.equal(unixName({ ...socket, path: "/run/a.sock" }), "/run/a.sock type=STREAM (LISTEN)");
  assert.equal(unixName({ ...socket, path: "", state: "CONNECTED" }), "type=STREAM (CONNECTED)");
});

Deno.test("rawName, packetName and packetProtocolName print raw and packet sockets as lsof does", () => {
  const raw = {
    inode: 1,
    localAddress: "0100007F:0011",
    remoteAddress: "0100007F:0000",
    state: "01",
  };
  assert.equal(rawName(raw), "0100007F:0011->0100007F:0000 st=01");
  const packet = { inode: 2, type: 3, protocol: 0x0003 };
  assert.deepEqual([packetName(packet), packetProtocolName(packet)], ["type=SOCK_RAW", "ALL"]);
  const dgram = { inode: 3, type: 2, protocol: 0x86dd };
  assert.deepEqual([packetName(dgram), packetProtocolName(dgram)], ["type=SOCK_DGRAM", "IPV6"]);
  // A protocol without a name: its number in decimal.
  assert.equal(packetProtocolName({ ...packet, protocol: 0x1234 }), "4660");
});

Deno.test("netlinkName names the protocol as lsof does, and one it does not know by number", () => {
  assert.deepEqual(
    [0, 4, 15, 16].map((protocol) => netlinkName({ inode: 1, protocol })),
    ["ROUTE", "INET_DIAG", "KOBJECT_UEVENT", "GENERIC"],
  );
  assert.equal(netlinkName({ inode: 1, protocol: 31 }), "unknown protocol: 31");
});

Deno.test("readUnixSockets names a path with a newline exactly in its own namespace, and believes no line it forges there, for a socket's inode or one nobody has", async () => {
  await using dir = await tempDir();
  const fds: number[] = [];
  const bound = (path: string) => {
    const fd = socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.CLOEXEC);
    fds.push(fd);
    bind(fd, { family: "unix", path });
    listen(fd);
    return Deno.statSync(`/proc/self/fd/${fd}`).ino!;
  };
  try {
    const real = `${dir.path}/a.sock`;
    const inode = bound(real);
    const phantom = unusedSocketInode();
    const own = { own: true } as const;
    for (const [claimed, name] of [[inode, "a"], [phantom, "b"]] as const) {
      // The rest of this path reads, in /proc/net/unix, as a line naming socket `claimed`.
      const forged = `${dir.path}/forged-${name}`;
      const newline = forgingUnixPath(`${dir.path}/${name}`, claimed, forged);
      const newlineInode = bound(newline);
      const table = parseUnixTable(Deno.readTextFileSync("/proc/net/unix"));
      const cut = newline.slice(0, newline.indexOf("\n"));
      assert.ok(table.some((s) => s.inode === claimed && s.path === forged), "the forgery works");
      assert.ok(table.some((s) => s.inode === newlineInode && s.path === cut), "cut there");
      const found = (filter: UnixFilter, source: NetnsSource = own) =>
        readUnixSockets(source, filter).filter((s) => s.path.startsWith(dir.path))
          .map((s) => [s.inode, s.path, s.state]).sort();
      assert.deepEqual(found({ paths: [newline] }), [[newlineInode, newline, "LISTEN"]]);
      assert.deepEqual(found({ paths: [forged, cut] }), []);
      assert.deepEqual(found({ paths: [real], listening: true }), [[inode, real, "LISTEN"]]);
      assert.deepEqual(found({ inodes: new Set([newlineInode, phantom]) }), [
        [newlineInode, newline, "LISTEN"],
      ]);
      // By inode, with the kernel address of the socket's own line, and the owner.
      const [socket] = readUnixSockets(own, { inodes: new Set([inode]) });
      const line = table.find((s) => s.inode === inode && s.path === real)!;
      assert.deepEqual(socket, { ...line, uid: Deno.uid(), peer: 0 }); // sock_diag: peers too
      // Where only the table can be read (another namespace), the forgery works, as documented.
      const alone: NetnsSource = { own: false, pid: Deno.pid };
      assert.ok(found({ paths: [forged] }, alone).some(([i]) => i === claimed));
      assert.deepEqual(found({ inodes: new Set([newlineInode]) }, alone), [
        [newlineInode, cut, "LISTEN"],
      ]);
      // Closed, so that the next forgery is the only one in the table.
      close(fds.pop()!);
    }
  } finally {
    for (const fd of fds) close(fd);
  }
});

Deno.test("readUnixOwners reads unix sockets again by inode: with their owner in its own namespace, from the table (owner unknown) in another", async () => {
  await using dir = await tempDir();
  const fd = socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.CLOEXEC);
  try {
    const path = `${dir.path}/o.sock`;
    bind(fd, { family: "unix", path });
    listen(fd);
    const inode = Deno.statSync(`/proc/self/fd/${fd}`).ino!;
    const [own] = readUnixOwners({ own: true }, new Set([inode]));
    assert.deepEqual([own.inode, own.path, own.state, own.uid], [
      inode,
      path,
      "LISTEN",
      Deno.uid(),
    ]);
    assert.ok(!("kernelAddress" in own), "sock_diag alone: the kernel address is not read");
    const [alone] = readUnixOwners({ own: false, pid: Deno.pid }, new Set([inode]));
    assert.deepEqual([alone.inode, alone.path, alone.uid], [inode, path, null]);
    assert.deepEqual(readUnixOwners({ own: true }, new Set([unusedSocketInode()])), []);
  } finally {
    close(fd);
  }
});

import assert from "node:assert/strict";
import {
  inetName,
  isListening,
  packetName,
  packetProtocolName,
  rawName,
  readUnixSockets,
  unixName,
} from "../../lib/fds/sockets.ts";
import { type InetSocket, parseUnixTable } from "../../lib/procfs/net.ts";
import { bind, close, listen, socket } from "../../lib/sys/libc.ts";
import { SOCK } from "../../lib/sys/constants.ts";
import { tempDir } from "../fixtures/mod.ts";

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

Deno.test("readUnixSockets names a path with a newline exactly, and believes no line forged by one", async () => {
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
    // The rest of this path reads, in /proc/net/unix, as a line naming the socket above.
    const forged = `${dir.path}/f`;
    const newline = `${dir.path}/x\n0: 0 0 10000 1 1 ${inode} ${forged}`;
    Deno.mkdirSync(newline.slice(0, newline.lastIndexOf("/")), { recursive: true });
    const newlineInode = bound(newline);
    const table = parseUnixTable(Deno.readTextFileSync("/proc/net/unix"));
    assert.ok(table.some((s) => s.inode === inode && s.path === forged), "the forgery works there");
    const byPath = (path: string) =>
      readUnixSockets({ own: true }).filter((socket) => socket.path === path)
        .map((s) => [s.inode, s.path, s.state]);
    assert.deepEqual(byPath(newline), [[newlineInode, newline, "LISTEN"]]);
    assert.deepEqual(byPath(forged), []);
    assert.deepEqual(byPath(real), [[inode, real, "LISTEN"]]);
    // By inode, with the kernel address of the socket's own line.
    const [found] = readUnixSockets({ own: true }, new Set([inode]));
    const line = table.find((s) => s.inode === inode && s.path === real)!;
    assert.deepEqual(found, { ...line, uid: Deno.uid() });
  } finally {
    for (const fd of fds) close(fd);
  }
});

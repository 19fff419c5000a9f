import assert from "node:assert/strict";
import {
  isUnixListener,
  parseInetTable,
  parseNetlinkTable,
  parsePacketTable,
  parseRawTable,
  parseUnixTable,
} from "../../lib/procfs/net.ts";

Deno.test("parseInetTable decodes host-order addresses, ports, state, uid and inode", () => {
  const tcp = parseInetTable(
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
      "   0: 0100007F:270F 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0 100 0 0 10 0\n",
    "tcp",
    "ipv4",
  );
  const [socket] = tcp;
  assert.deepEqual(
    [socket.localAddress, socket.localPort, socket.remoteAddress, socket.remotePort],
    ["127.0.0.1", 9999, "0.0.0.0", 0],
  );
  assert.deepEqual([socket.state, socket.uid, socket.inode, tcp.length], [10, 1000, 12345, 1]);
});

Deno.test("parseInetTable decodes IPv6 words, including v4-mapped peers", () => {
  const [socket] = parseInetTable(
    "  sl  local_address                         remote_address                        st\n" +
      "   2: 0000000000000000FFFF00000100007F:85BF 0000000000000000FFFF00000100007F:D5A2 01 " +
      "00000000:00000000 00:00000000 00000000     0        0 199237 1 0 20 0 0 10 -1\n",
    "tcp",
    "ipv6",
  );
  assert.equal(socket.localAddress, "::ffff:127.0.0.1");
  assert.equal(socket.localPort, 0x85bf);
  assert.equal(socket.remotePort, 0xd5a2);
  assert.equal(socket.state, 1);
  const [loopback] = parseInetTable(
    "header\n   0: 00000000000000000000000001000000:9225 00000000000000000000000000000000:0000 0A " +
      "00000000:00000000 00:00000000 00000000     0        0 199226 1 0 100 0 0 10 0\n",
    "tcp",
    "ipv6",
  );
  assert.equal(loopback.localAddress, "::1");
});

Deno.test("parseUnixTable reads path, type and state (LISTEN from the accept flag), not the owner", () => {
  const sockets = parseUnixTable(
    "Num       RefCount Protocol Flags    Type St Inode Path\n" +
      "0000000076a4171d: 00000002 00000000 00010000 0001 01 199230 @abstract-x\n" +
      "000000009579db48: 00000002 00000000 00000000 0002 01 199228\n" +
      "00000000ecc880d7: 00000003 00000000 00000000 0001 03 199234 /run/with space.sock\n",
  );
  assert.deepEqual(sockets, [
    {
      inode: 199230,
      kernelAddress: "0x0000000076a4171d",
      path: "@abstract-x",
      type: "STREAM",
      state: "LISTEN",
      peer: null,
      uid: null,
    },
    {
      inode: 199228,
      kernelAddress: "0x000000009579db48",
      path: "",
      type: "DGRAM",
      state: "UNCONNECTED",
      peer: null,
      uid: null,
    },
    {
      inode: 199234,
      kernelAddress: "0x00000000ecc880d7",
      path: "/run/with space.sock",
      type: "STREAM",
      state: "CONNECTED",
      peer: null,
      uid: null,
    },
  ]);
});

Deno.test("parseUnixTable with inodes keeps only those sockets", () => {
  const text = "Num       RefCount Protocol Flags    Type St Inode Path\n" +
    "0000000076a4171d: 00000002 00000000 00010000 0001 01 199230 @abstract-x\n" +
    "000000009579db48: 00000002 00000000 00000000 0002 01 1992301\n";
  assert.deepEqual(parseUnixTable(text, new Set([199230])).map((s) => s.inode), [199230]);
  assert.deepEqual(parseUnixTable(text, new Set([1992301])).map((s) => s.inode), [1992301]);
});

Deno.test("parseUnixTable joins a path's lines back where it holds newlines, and keeps its spaces", () => {
  const text = "Num       RefCount Protocol Flags    Type St Inode Path\n" +
    "0000000076a4171d: 00000002 00000000 00010000 0001 01 199230 /run/a\nb\n\n" +
    "000000009579db48: 00000002 00000000 00000000 0002 01 199228 /run/ends in space \n" +
    "00000000ecc880d7: 00000003 00000000 00000000 0001 03 199234 /run/ends in newline\n\n";
  const paths = (inodes?: Set<number>) => parseUnixTable(text, inodes).map((s) => s.path);
  assert.deepEqual(paths(), [
    "/run/a\nb\n",
    "/run/ends in space ",
    "/run/ends in newline\n",
  ]);
  // Also when a few inodes are looked for by substring: the lines after theirs are read too.
  assert.deepEqual(paths(new Set([199230])), ["/run/a\nb\n"]);
  assert.deepEqual(paths(new Set([199234])), ["/run/ends in newline\n"]);
});

Deno.test("parseRawTable keeps the addresses and state as written; parsePacketTable type and protocol", () => {
  const raw =
    `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 247: 0100007F:0011 0100007F:0000 01 00000000:00000000 00:00000000 00000000     0        0 8144824 2 00000000b88609e9 0
`;
  assert.deepEqual(parseRawTable(raw), [
    { inode: 8144824, localAddress: "0100007F:0011", remoteAddress: "0100007F:0000", state: "01" },
  ]);
  const packet = `sk               RefCnt Type Proto  Iface R Rmem   User   Inode
0000000052c5071d 3      3    0003   0     1 0      0      8144821
0000000039eac9fb 3      2    86dd   0     1 0      0      8144822
`;
  assert.deepEqual(parsePacketTable(packet), [
    { inode: 8144821, type: 3, protocol: 3 },
    { inode: 8144822, type: 2, protocol: 0x86dd },
  ]);
});

Deno.test("parseNetlinkTable reads each socket's protocol and inode", () => {
  const text =
    `sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
000000003a8d1733 0   5971       00000000 0        0        0     2        0        10211173
00000000194c5c63 15  0          00000001 0        0        0     2        0        474     
`;
  assert.deepEqual(parseNetlinkTable(text), [
    { inode: 10211173, protocol: 0 },
    { inode: 474, protocol: 15 },
  ]);
});

Deno.test("isUnixListener: LISTEN, or a datagram socket bound to a path without a peer", () => {
  const server = { type: "DGRAM", state: "CONNECTED", path: "/dev/log", peer: 0 };
  assert.equal(isUnixListener(server), true);
  assert.equal(isUnixListener({ ...server, peer: 42 }), false); // a bound client
  assert.equal(isUnixListener({ ...server, path: "" }), false); // unbound
  assert.equal(isUnixListener({ ...server, type: "STREAM" }), false);
  assert.equal(isUnixListener({ ...server, type: "STREAM", state: "LISTEN" }), true);
  // Peer unknown (/proc/net/unix): only an unconnected one.
  assert.equal(isUnixListener({ ...server, peer: null }), false);
  assert.equal(isUnixListener({ ...server, peer: null, state: "UNCONNECTED" }), true);
});

Deno.test("parseUnixTable finds a few inodes by substring exactly as a full parse does", () => {
  const forged = "Num       RefCount Protocol Flags    Type St Inode Path\n" +
    "0000000076a4171d: 00000002 00000000 00010000 0001 01 199230 /run/a 199228\nb 199234\n\n" +
    "000000009579db48: 00000002 00000000 00000000 0002 01 199228 /run/ends in space \n" +
    "00000000ecc880d7: 00000003 00000000 00000000 0001 03 199234 /run/x\n" +
    "00000000ecc880d8: 00000003 00000000 00000000 0001 03 1992345 /run/y 199234\n";
  for (const text of [forged, Deno.readTextFileSync("/proc/net/unix")]) {
    const all = parseUnixTable(text);
    const inodes = all.map((socket) => socket.inode);
    for (let round = 0; round < 20; round++) {
      const some = new Set(inodes.filter(() => Math.random() < 4 / inodes.length));
      some.add(inodes[round % inodes.length]);
      some.add(987654321); // no such socket
      assert.deepEqual(
        parseUnixTable(text, some),
        all.filter((socket) => some.has(socket.inode)),
        [...some].join(" "),
      );
    }
  }
});

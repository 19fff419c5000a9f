import assert from "node:assert/strict";
import { dumpInetSockets } from "../../lib/sys/sock_diag.ts";
import { parseInetTable } from "../../lib/procfs/net.ts";
import { bind, close, getsockname, socket } from "../../lib/sys/libc.ts";
import { SOCK } from "../../lib/sys/constants.ts";

Deno.test("dumpInetSockets finds a listener by port, with the inode /proc/net/tcp shows", () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const found = dumpInetSockets("tcp", "ipv4", { port });
    assert.equal(found.length, 1);
    assert.deepEqual(
      { address: found[0].localAddress, port: found[0].localPort, state: found[0].state },
      { address: "127.0.0.1", port, state: 10 },
    );
    const table = parseInetTable(Deno.readTextFileSync("/proc/net/tcp"), "tcp", "ipv4");
    assert.deepEqual(table.find((s) => s.localPort === port), found[0]);
    assert.deepEqual(dumpInetSockets("tcp", "ipv4", { port, states: 1 << 1 }), []);
  } finally {
    listener.close();
  }
});

Deno.test("dumpInetSockets reports UDP sockets over IPv6", () => {
  const fd = socket(SOCK.AF_INET6, SOCK.DGRAM | SOCK.CLOEXEC);
  try {
    bind(fd, { family: "ipv6", address: "::1", port: 0 });
    const { port } = getsockname(fd) as { port: number };
    const [found] = dumpInetSockets("udp", "ipv6", { port });
    assert.equal(found.localAddress, "::1");
    assert.equal(found.protocol, "udp");
    assert.ok(found.inode > 0);
  } finally {
    close(fd);
  }
});

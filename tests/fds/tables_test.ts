import assert from "node:assert/strict";
import { type SocketSelection, SocketTables } from "../../lib/fds/tables.ts";

const selection = (port: number): SocketSelection => ({
  ports: [port],
  protocols: ["tcp"],
  listening: true,
  inet: true,
  unixPaths: [],
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

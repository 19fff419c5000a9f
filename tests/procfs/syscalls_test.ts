import assert from "node:assert/strict";
import { threadAsleepReading } from "../../lib/procfs/syscalls.ts";
import { close, pipe2, write } from "../../lib/sys/libc.ts";
import { waitFor } from "../fixtures/mod.ts";

Deno.test("threadAsleepReading sees Deno's thread asleep in read on a pipe, and not once it has data", async () => {
  const [reader, writer] = pipe2();
  const link = Deno.readLinkSync(`/proc/self/fd/${reader}`);
  const file = await Deno.open(`/proc/self/fd/${reader}`, { read: true });
  try {
    assert.equal(threadAsleepReading(link), false, "nobody reads it yet");
    const read = file.read(new Uint8Array(16));
    await waitFor("the read asleep", () => threadAsleepReading(link));
    write(writer, new TextEncoder().encode("abc"));
    assert.equal(await read, 3);
    assert.equal(threadAsleepReading(link), false, "no read asked for since");
    assert.equal(threadAsleepReading("pipe:[0]"), false);
  } finally {
    file.close();
    close(reader);
    close(writer);
  }
});

import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { configureMessages, messagesToFile } from "../../lib/supervise/messages.ts";
import { tempDir } from "../fixtures/mod.ts";

Deno.test("messages that opsd.log could not take are marked there once it can be written again", async () => {
  await using dir = await tempDir();
  // Its directory is a file at first: every write fails, as on a full disk.
  await Deno.writeTextFile(`${dir.path}/state`, "");
  const path = `${dir.path}/state/opsd.log`;
  const flush = configureMessages("/srv/web");
  messagesToFile(path);
  const log = getLogger(["opsd", "supervise"]);
  log.info("lost"); // 56 bytes, stamped
  await flush();
  await Deno.remove(`${dir.path}/state`);
  log.info("kept");
  await flush();
  const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
  assert.equal(lines.length, 2, lines.join("\n"));
  assert.match(
    lines[0],
    new RegExp(
      `^\\S+Z opsd supervise: dropped 56 bytes of messages: ${path} could not be written$`,
    ),
  );
  assert.match(lines[1], /^\S+Z opsd supervise\[\/srv\/web\]: kept$/);
});

import assert from "node:assert/strict";
import { FIXTURES } from "../fixtures/mod.ts";

/** Runs one case of the libc child fixture and parses the line it prints. */
async function child(name: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${FIXTURES}libc_child.ts`, name],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

Deno.test("setsid makes the caller a session leader, and fails once it is one", async () => {
  const { pid, before, sid, now, again } = await child("setsid");
  assert.notEqual(before, pid);
  assert.equal(sid, pid);
  assert.equal(now, pid);
  assert.equal(again, "setsid: EPERM (operation not permitted)");
});

Deno.test("execve replaces the program and keeps the pid", async () => {
  const { pid, was } = await child("execve");
  assert.equal(pid, was);
});

Deno.test("execve of a missing program throws, naming the path and ENOENT", async () => {
  const { error } = await child("execve-missing");
  assert.equal(error, "execve /nonexistent/program: ENOENT (no such file or directory)");
});

Deno.test("prctl(PR_SET_CHILD_SUBREAPER) hands orphaned grandchildren to the caller", async () => {
  const { pid, orphan, orphanParent } = await child("subreaper");
  assert.ok(orphan > 0);
  assert.equal(orphanParent, pid);
});

Deno.test("closeRange closes every fd in the range", async () => {
  const { closed } = await child("close-range");
  assert.deepEqual(closed, [true, true, true]);
});

Deno.test("chdir moves the whole process", async () => {
  const { cwd, link } = await child("chdir");
  assert.equal(cwd, "/tmp");
  assert.equal(link, "/tmp");
});

import assert from "node:assert/strict";
import { resolveService } from "../../lib/service/paths.ts";
import {
  acquireLock,
  isStateDirAt,
  lockPath,
  releaseLock,
  statusPath,
  writeStatus,
} from "../../lib/supervise/state.ts";
import type { ServiceStatus } from "../../lib/supervise/status.ts";
import { mountTmpfs, runWithFileSizeLimit, tempDir } from "../fixtures/mod.ts";

Deno.test("writeStatus through a state directory that fails names the status file by its path", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/run`, "#!/bin/sh\n", { mode: 0o755 });
  const paths = resolveService(dir.path);
  assert.throws(
    () => writeStatus(paths, {} as ServiceStatus, `${dir.path}/gone`),
    (error: Error) => error.message === `${statusPath(paths)}: ENOENT (no such file or directory)`,
  );
});

Deno.test("a symlinked state directory (runit's layout) is used as it is, if it is ours with mode 0700", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/web`);
  await Deno.writeTextFile(`${dir.path}/web/run`, "#!/bin/sh\n", { mode: 0o755 });
  const paths = resolveService(`${dir.path}/web`);
  const target = `${dir.path}/state`;
  await Deno.symlink(target, paths.stateDir);

  // Dangling: said, not called a file.
  assert.throws(() => acquireLock(paths), {
    message: `${paths.stateDir} is a symlink to ${target}, which is not a directory: make ` +
      "that directory (mode 0700), or remove the link",
  });
  // Others may use it: refused, its mode left alone.
  await Deno.mkdir(target, { mode: 0o755 });
  await Deno.chmod(target, 0o755);
  assert.throws(() => acquireLock(paths), {
    message: `${paths.stateDir} is a symlink to ${target}, which others may use (mode 755): ` +
      `make ${target} root's with mode 0700, or remove the link`,
  });
  assert.equal((await Deno.stat(target)).mode! & 0o777, 0o755);
  // Another user's: refused.
  await Deno.chmod(target, 0o700);
  await Deno.chown(target, 65534, null);
  assert.throws(() => acquireLock(paths), { message: /, which is nobody's: make .* root's/ });
  // Ours, mode 0700: used.
  await Deno.chown(target, 0, null);
  const held = acquireLock(paths);
  try {
    assert.equal((await Deno.stat(target)).mode! & 0o777, 0o700);
    assert.ok((await Deno.stat(`${target}/lock`)).isFile);
    // What is held is the link's target, which the link still leads to.
    assert.equal(held.dir.ino, (await Deno.stat(target)).ino);
    assert.ok(isStateDirAt(paths, held.dir));
  } finally {
    releaseLock(held);
  }
});

Deno.test("root refuses a state directory another user owns (links put there would be written through)", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/run`, "#!/bin/sh\n", { mode: 0o755 });
  const paths = resolveService(dir.path);
  await Deno.mkdir(paths.stateDir, { mode: 0o700 });
  await Deno.chown(paths.stateDir, 65534, null);
  assert.throws(() => acquireLock(paths), {
    message: `${paths.stateDir} is nobody's, and root writes its state there: remove it (opsd ` +
      "makes it again), or make it root's",
  });
  await Deno.chown(paths.stateDir, 0, null);
  releaseLock(acquireLock(paths));
});

Deno.test("root keeps state only where root alone may replace it: not in another user's or a group/world-writable directory; a sticky one (/tmp) is fine", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/run`, "#!/bin/sh\n", { mode: 0o755 });
  const paths = resolveService(dir.path);
  const advice = ": run as root, opsd keeps state only where root alone may replace it (else " +
    `supervise could be swapped for a link, and root would write its files there): make ${dir.path} ` +
    "root's and not writable by others, or supervise as that user";
  await Deno.chown(dir.path, 65534, null);
  assert.throws(() => acquireLock(paths), { message: `${dir.path} is nobody's${advice}` });
  assert.equal(await Deno.stat(paths.stateDir).catch(() => null), null, "none left made");
  await Deno.chown(dir.path, 0, null);
  await Deno.chmod(dir.path, 0o777);
  assert.throws(() => acquireLock(paths), {
    message: `others may write ${dir.path} (mode 777)${advice}`,
  });
  await Deno.chmod(dir.path, 0o1777);
  releaseLock(acquireLock(paths));
  await Deno.chmod(dir.path, 0o700);
});

Deno.test("acquireLock holds the state directory it checked: the lock is in it, and a moved or replaced directory is told from it", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/web`);
  await Deno.writeTextFile(`${dir.path}/web/run`, "#!/bin/sh\n", { mode: 0o755 });
  const paths = resolveService(`${dir.path}/web`);
  const held = acquireLock(paths);
  try {
    const info = await Deno.stat(paths.stateDir);
    assert.deepEqual([held.dir.dev, held.dir.ino], [info.dev, info.ino]);
    assert.equal(held.dir.path, `/proc/self/fd/${held.dir.fd}`);
    assert.equal(await Deno.readTextFile(`${held.dir.path}/lock`), `${Deno.pid}\n`);
    assert.equal(await Deno.readTextFile(lockPath(paths)), `${Deno.pid}\n`);
    assert.ok(isStateDirAt(paths, held.dir));
    // Moved: gone from its path, still reached through the fd.
    await Deno.rename(`${dir.path}/web`, `${dir.path}/moved`);
    assert.equal(isStateDirAt(paths, held.dir), false);
    assert.ok((await Deno.stat(`${held.dir.path}/lock`)).isFile);
    // Another directory of the same name is not it.
    await Deno.mkdir(paths.stateDir, { recursive: true });
    assert.equal(isStateDirAt(paths, held.dir), false);
    await Deno.remove(`${dir.path}/web`, { recursive: true });
    await Deno.rename(`${dir.path}/moved`, `${dir.path}/web`);
    assert.ok(isStateDirAt(paths, held.dir));
  } finally {
    releaseLock(held);
  }
});

Deno.test("acquireLock that fails writing its pid (a full disk) says so and holds nothing: no lock, no fd, no state directory it made", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/run`, "#!/bin/sh\n", { mode: 0o755 });
  const state = new URL("../../lib/supervise/state.ts", import.meta.url).href;
  const paths = new URL("../../lib/service/paths.ts", import.meta.url).href;
  const script = `
    import { resolveService } from ${JSON.stringify(paths)};
    import { acquireLock, runningSupervisor } from ${JSON.stringify(state)};
    const paths = resolveService(${JSON.stringify(dir.path)});
    const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
    const before = fds();
    let failed = "";
    try { acquireLock(paths); } catch (error) { failed = error.message; }
    const left = [...Deno.readDirSync(${JSON.stringify(dir.path)})].map((entry) => entry.name);
    console.log(JSON.stringify({ failed, fds: fds() - before, held: runningSupervisor(paths), left }));`;
  // A 1-byte file size limit: the lock file is made, the pid written into it fails (EFBIG).
  const run = await runWithFileSizeLimit(1, [Deno.execPath(), "eval", script]);
  const decoder = new TextDecoder();
  assert.ok(run.success, decoder.decode(run.stderr));
  const result = JSON.parse(decoder.decode(run.stdout));
  // Named by its path, with what to do; not by the fd it was reached through.
  assert.equal(
    result.failed,
    `cannot write this supervisor's pid into ${dir.path}/supervise/lock: EFBIG (file too ` +
      "large): lift the file size limit (ulimit -f)",
  );
  assert.deepEqual({ fds: result.fds, held: result.held }, { fds: 0, held: null });
  assert.deepEqual(result.left, ["run"], "the state directory it made is not left behind");
});

Deno.test({
  name: "acquireLock on a read-only file system says so, naming the state directory, exit 4",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using dir = await tempDir();
    const root = `${dir.path}/ro`;
    await using disk = await mountTmpfs(root, "size=64k");
    if (!disk) {
      console.log("not tested: cannot mount a tmpfs here");
      return;
    }
    for (const made of [false, true]) {
      await Deno.writeTextFile(`${root}/run`, "#!/bin/sh\n", { mode: 0o755 });
      if (made) await Deno.mkdir(`${root}/supervise`, { mode: 0o700 });
      await new Deno.Command("mount", { args: ["-o", "remount,ro", root] }).output();
      const paths = resolveService(root);
      try {
        assert.throws(() => acquireLock(paths), (error: Error & { exitCode?: number }) => {
          assert.equal(error.exitCode, 4, error.message);
          assert.match(
            error.message,
            new RegExp(`^cannot ${made ? "use" : "make"} ${paths.stateDir}: read-only file `),
          );
          assert.match(error.message, /symlink to a directory on a writable file system/);
          return true;
        });
      } finally {
        await new Deno.Command("mount", { args: ["-o", "remount,rw", root] }).output();
      }
    }
  },
});

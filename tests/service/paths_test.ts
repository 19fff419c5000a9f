import assert from "node:assert/strict";
import { resolveService } from "../../lib/service/paths.ts";
import { tempDir } from "../fixtures/mod.ts";

Deno.test("resolveService: a directory is the daemontools layout, with log/ as a second service", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/web/log`, { recursive: true });
  assert.equal(
    resolveService("web", dir.path).log,
    null,
    "a log/ without run only holds log files (log-file = log/current)",
  );
  await Deno.writeTextFile(`${dir.path}/web/log/run`, "#!/bin/sh\n", { mode: 0o755 });
  const web = resolveService("web", dir.path);
  assert.equal(web.form, "directory");
  assert.equal(web.path, `${dir.path}/web`);
  assert.equal(web.run, `${dir.path}/web/run`);
  assert.equal(web.stateDir, `${dir.path}/web/supervise`);
  assert.equal(web.settingsFile, `${dir.path}/web/opsd.conf`);
  assert.equal(web.downFile, `${dir.path}/web/down`);
  assert.equal(web.log?.path, `${dir.path}/web/log`);
  assert.equal(web.log?.stateDir, `${dir.path}/web/log/supervise`);
  assert.equal(web.log?.log, null);
  assert.deepEqual(
    resolveService(`${dir.path}/web/`),
    web,
    "a trailing slash names the same service",
  );
});

Deno.test("resolveService: a script keeps its settings and state beside it", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/job.sh`, "#!/bin/sh\n", { mode: 0o755 });
  const job = resolveService("./job.sh", dir.path);
  assert.equal(job.form, "script");
  assert.equal(job.run, `${dir.path}/job.sh`);
  assert.equal(job.dir, dir.path);
  assert.equal(job.settingsFile, `${dir.path}/job.sh.opsd.conf`);
  assert.equal(job.stateDir, `${dir.path}/.job.sh.opsd`);
  assert.equal(job.finish, null);
  assert.equal(job.log, null);
});

Deno.test("resolveService: DIR/run is the directory service; a symlinked directory is the real one; a symlinked script keeps its own state", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/web`);
  await Deno.writeTextFile(`${dir.path}/web/run`, "#!/bin/sh\n", { mode: 0o755 });
  assert.deepEqual(resolveService("web/run", dir.path), resolveService("web", dir.path));
  await Deno.mkdir(`${dir.path}/scripts`);
  await Deno.writeTextFile(`${dir.path}/scripts/job.sh`, "#!/bin/sh\n", { mode: 0o755 });
  await Deno.symlink("scripts/job.sh", `${dir.path}/link.sh`);
  // The operator's settings beside the link count: the supervisor locks the real file instead.
  const link = resolveService("link.sh", dir.path);
  assert.equal(link.settingsFile, `${dir.path}/link.sh.opsd.conf`);
  assert.equal(link.stateDir, `${dir.path}/.link.sh.opsd`);
  await Deno.symlink("web", `${dir.path}/web-link`);
  assert.deepEqual(
    resolveService("web-link", dir.path),
    resolveService("web", dir.path),
    "a symlinked directory is its real directory, resolved once (a re-pointed link changes nothing)",
  );
  assert.deepEqual(resolveService("web-link/run", dir.path), resolveService("web", dir.path));
});

Deno.test("resolveService: nothing there is a usage error saying what a service is", () => {
  assert.throws(
    () => resolveService("/no/such/service"),
    /^UsageError: no such service: \/no\/such\/service: name a directory with an executable run file, or an executable script$/,
  );
});

import assert from "node:assert/strict";
import { readProcStat } from "../../lib/procfs/stat.ts";
import {
  isAlive,
  numberedFds,
  processesMentioning,
  processesWorkingIn,
  runOpsd,
  waitFor,
} from "../fixtures/mod.ts";
import { procFacts } from "../fixtures/daemon.ts";
import {
  copyService,
  killGroup,
  SERVICE_FDS,
  superviseInBackground,
} from "../fixtures/supervise.ts";
import { readStatus } from "../../lib/supervise/state.ts";
import { close, flock, open } from "../../lib/sys/libc.ts";
import { LOCK, O } from "../../lib/sys/constants.ts";
import { resolveService } from "../../lib/service/paths.ts";

// `opsd supervise --daemon` run as an operator would: a real opsd that returns once the
// supervisor it put in the background has started the service. The scope of each run
// stops that supervisor (by pid) and kills whatever its services left.

Deno.test("supervise --daemon returns once the service and its log service are up, supervisor detached", async () => {
  await using service = await copyService("logged");
  await using run = await superviseInBackground([service.path]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, "");
  // Up at once: the status was written before the supervisor reported.
  const status = await runOpsd(["status", service.path]);
  assert.equal(status.code, 0, status.stdout);
  assert.match(status.stdout, /^\S+\/logged: up \(pid \d+, pgid \d+\) \d+ seconds?, normally up\n/);
  assert.match(status.stdout, /\n\S+\/logged\/log: up \(pid \d+/);

  const facts = procFacts(run.pid);
  assert.equal(facts.sid, run.pid, "a session of its own");
  assert.equal(facts.pgid, run.pid);
  assert.equal(facts.ttyNr, 0, "no controlling terminal");
  assert.equal(facts.fds[0], "/dev/null", "stdin from /dev/null");
  assert.equal(facts.cwd, "/");
  const ancestors = [1];
  for (let p = Deno.pid; p > 1; p = readProcStat(p)!.ppid) ancestors.push(p);
  assert.ok(ancestors.includes(facts.ppid), `ppid ${facts.ppid}: pid 1 or an ancestor`);
  const record = readStatus(resolveService(service.path))!;
  assert.equal(record.supervisor.pid, run.pid);
  assert.deepEqual(
    procFacts(record.pid!).sid,
    record.pid,
    "the service in a session of its own, apart from the supervisor's",
  );
  const environ = await Deno.readTextFile(`/proc/${record.pid}/environ`);
  assert.doesNotMatch(environ, /OPSD_READY_FD|OPSD_PIDFILE/, "nothing handed to the supervisor");
});

Deno.test("supervise --daemon: the service holds exactly fds 0-2; its output and the supervisor's messages are logged in the state directory", async () => {
  await using service = await copyService("steady");
  await using run = await superviseInBackground([service.path]);
  assert.equal(run.code, 0, run.stderr);
  const pid = readStatus(resolveService(service.path))!.pid!;
  // Until run execs sleep, sh holds the script open (on fd 10).
  await waitFor("run to exec sleep", () => readProcStat(pid)?.comm === "sleep" || null);
  assert.deepEqual(await numberedFds(pid), SERVICE_FDS, "exactly fds 0-2 (opsd fds)");
  const current = await waitFor("the service's line", async () => {
    const text = await Deno.readTextFile(`${service.path}/supervise/current`).catch(() => "");
    return text.includes(`out steady ${pid} up`) ? text : null;
  });
  assert.match(current, new RegExp(`Z opsd started pid ${pid}\n`));
  const messages = await Deno.readTextFile(`${service.path}/supervise/opsd.log`);
  assert.match(messages, new RegExp(`Z opsd supervise\\[${service.path}\\]: started pid ${pid}\n`));
  const json = JSON.parse((await runOpsd(["status", "--json", service.path])).stdout);
  assert.equal(json.logFile, `${service.path}/supervise/current`);
});

Deno.test("supervise --daemon refuses with the supervisor's code and one line, leaving nothing running", async () => {
  await using service = await copyService("noexec");
  const notExecutable = await runOpsd(["supervise", "--daemon", service.path]);
  assert.equal(notExecutable.code, 126);
  assert.equal(
    notExecutable.stderr,
    `opsd supervise: ${service.path}/run: not executable: make it executable (chmod +x ${service.path}/run)\n`,
  );
  // run is there and executable, but cannot be exec'd: the first start fails.
  await Deno.writeTextFile(`${service.path}/run`, "#!/nonexistent/shell\nexec sleep 1000\n");
  await Deno.chmod(`${service.path}/run`, 0o755);
  const badSetting = await runOpsd([
    "supervise",
    "--daemon",
    "--stop-timeout",
    "soon",
    service.path,
  ]);
  assert.equal(badSetting.code, 2);
  assert.match(badSetting.stderr, /^opsd supervise: --stop-timeout: bad duration "soon"/);
  const pidfile = `${service.dir}/supervisor.pid`;
  const cannotStart = await runOpsd(["supervise", "--daemon", "--pidfile", pidfile, service.path]);
  assert.equal(cannotStart.code, 127);
  assert.equal(
    cannotStart.stderr,
    `opsd supervise: cannot start ${service.path}: exec ${service.path}/run: its interpreter ` +
      "/nonexistent/shell was not found: fix its #! line (e.g. '#!/bin/sh')\n",
  );
  assert.equal(await Deno.stat(pidfile).catch(() => null), null, "no pidfile left");
  // Its messages say what happened, and no restart that was never going to happen.
  const messages = await Deno.readTextFile(`${service.path}/supervise/opsd.log`);
  assert.match(messages, /cannot start: exec .*\n.*the first start failed: taking everything down/);
  assert.doesNotMatch(messages, /restarting in/);
  await Deno.remove(`${service.path}/run`);
  const missing = await runOpsd(["supervise", "--daemon", service.path]);
  assert.equal(missing.code, 127, missing.stderr);
  assert.match(missing.stderr, /run: not found: a service directory needs an executable run file/);
  const unknown = await runOpsd(["supervise", "--daemon", `${service.dir}/nothing`]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^opsd supervise: no such service: /);
  assert.deepEqual(processesMentioning(service.dir), [], "nothing of it runs");
  for (const [flag, value] of [["--pidfile", `${service.dir}/p.pid`], ["--start-timeout", "1s"]]) {
    const usage = await runOpsd(["supervise", flag, value, service.path]);
    assert.deepEqual([usage.code, usage.stderr], [
      2,
      `opsd supervise: ${flag} needs --daemon (see 'opsd supervise --help')\n`,
    ]);
  }
});

Deno.test("supervise --daemon with an empty log-file setting logs in the state directory all the same", async () => {
  await using service = await copyService("steady");
  await Deno.writeTextFile(`${service.path}/opsd.conf`, "log-file =\n");
  await using run = await superviseInBackground([service.path]);
  assert.equal(run.code, 0, run.stderr);
  const pid = readStatus(resolveService(service.path))!.pid!;
  await waitFor("the service's line in supervise/current", async () => {
    const text = await Deno.readTextFile(`${service.path}/supervise/current`).catch(() => "");
    return text.includes(`out steady ${pid} up`) || null;
  });
});

Deno.test("supervise --daemon by a user who may not make the state directory: the same line as in the foreground (exit 4)", async () => {
  await using service = await copyService("steady");
  await Deno.chmod(service.dir, 0o755);
  const nobody = { uid: 65534, gid: 65534 };
  const runs = await Promise.all([
    runOpsd(["supervise", "--daemon", service.path], { asUser: nobody }),
    runOpsd(["supervise", service.path], { asUser: nobody }),
  ]);
  for (const run of runs) {
    assert.deepEqual([run.code, run.stderr], [
      4,
      `opsd supervise: permission denied: cannot make ${service.path}/supervise: ` +
      `${service.path} is root's: run this as that user or as root\n`,
    ]);
  }
});

Deno.test("supervise --daemon whose --print-pid or --json cannot be written stops the supervisor and its services (exit 1, one line)", async () => {
  await using service = await copyService("logged");
  const pidfile = `${service.dir}/supervisor.pid`;
  for (const flag of ["--print-pid", "--json"]) {
    const { code, stderr } = await runOpsd(
      ["supervise", "--daemon", flag, "--pidfile", pidfile, service.path],
      { stdoutTo: "/dev/full" },
    );
    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      new RegExp(
        "^opsd supervise: cannot write the supervisor's pid \\d+ to stdout: ENOSPC \\(no space " +
          "left on device\\): stopped it and its services, so nothing runs that the caller was " +
          "not told of\n$",
      ),
    );
    assert.deepEqual(processesWorkingIn(service.dir), [], `${flag}: nothing of it runs`);
    assert.equal(await Deno.stat(pidfile).catch(() => null), null, `${flag}: no pidfile left`);
    const status = await runOpsd(["status", service.path]);
    assert.match(
      status.stdout,
      /logged: supervisor not running; down \d+ seconds?, killed by SIGTERM\n/,
    );
  }
});

Deno.test("supervise --daemon whose --print-pid cannot be written gives a service its whole stop timeout before KILLing the supervisor", async () => {
  // The service ignores TERM; its stop timeout (16 s) is above what a fixed allowance gave.
  await using service = await copyService("stubborn");
  const started = Date.now();
  const { code, stderr } = await runOpsd(
    ["supervise", "--daemon", "--print-pid", "--stop-timeout", "16s", service.path],
    { stdoutTo: "/dev/full" },
  );
  assert.equal(code, 1, stderr);
  assert.ok(Date.now() - started >= 15_000, "waited for the service's stop timeout");
  assert.deepEqual(processesWorkingIn(service.dir), [], "nothing of it runs");
  const status = await runOpsd(["status", service.path]);
  assert.match(
    status.stdout,
    /stubborn: supervisor not running; down \d+ seconds?, killed by SIGKILL\n/,
  );
});

Deno.test("a --daemon supervisor is recorded as detached; a late log/ advises --daemon again", async () => {
  await using service = await copyService("steady");
  await using run = await superviseInBackground([service.path]);
  assert.equal(run.code, 0, run.stderr);
  await Deno.mkdir(`${service.path}/log`);
  await Deno.writeTextFile(`${service.path}/log/run`, "#!/bin/sh\nexec cat\n", { mode: 0o755 });
  const status = await runOpsd(["status", "--json", service.path]);
  const [main] = status.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(main.supervisor, { running: true, pid: run.pid, detached: true, exiting: null });
  assert.deepEqual(main.notes, [
    "log/ is not supervised: it was made after the supervisor started; restart its supervisor " +
    `('opsd exit ${service.path}', then 'opsd supervise --daemon ${service.path}') to run it`,
  ]);
});

Deno.test("supervise --daemon on a supervised service exits 5 naming the supervisor", async () => {
  await using service = await copyService("steady");
  await using first = await superviseInBackground([service.path]);
  assert.equal(first.code, 0, first.stderr);
  const second = await runOpsd(["supervise", "--daemon", service.path]);
  assert.equal(second.code, 5);
  assert.equal(
    second.stderr,
    `opsd supervise: ${service.path} is already supervised by pid ${first.pid}: use ` +
      `'opsd status ${service.path}', or 'opsd exit ${service.path}' to stop that supervisor\n`,
  );
  assert.deepEqual(
    processesMentioning(service.path),
    [first.pid],
    "the refused supervisor is gone",
  );
});

Deno.test("supervise --daemon --ok-if-running, two at once as cron lines: one supervisor, both exit 0 quietly with its pid; not while it exits", async () => {
  await using service = await copyService("stubborn");
  const args = ["--ok-if-running", "--stop-timeout", "2s", service.path];
  const runs = await Promise.all([superviseInBackground(args), superviseInBackground(args)]);
  await using first = runs[0];
  await using second = runs[1];
  for (const run of [first, second]) {
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
  }
  assert.equal(first.pid, second.pid, "both name the one supervisor");
  assert.deepEqual(processesMentioning(service.path), [first.pid], "the loser left nothing");
  const json = await runOpsd(["supervise", "--daemon", "--ok-if-running", "--json", service.path]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), {
    pid: first.pid,
    service: service.path,
    alreadyRunning: true,
  });
  // A supervisor taking its service down to exit carries it no more: still refused.
  assert.equal((await runOpsd(["exit", "--no-wait", "-q", service.path])).code, 0);
  const exiting = await runOpsd(["supervise", "--daemon", "--ok-if-running", service.path]);
  assert.equal(exiting.code, 5, exiting.stderr);
  assert.match(
    exiting.stderr,
    new RegExp(
      `^opsd supervise: ${service.path} is still supervised by pid ${first.pid}, but its ` +
        "supervisor is exiting \\(opsd exit\\): it takes the service down; start a new " +
        "supervisor once it has exited to run it again\n$",
    ),
  );
});

Deno.test("supervise --daemon --ok-if-running --pidfile, three at once: the two refused by the pidfile wait for the one starting and exit 0 with its pid", async () => {
  await using service = await copyService("steady");
  const args = ["--ok-if-running", "--pidfile", `${service.dir}/supervisor.pid`, service.path];
  const runs = await Promise.all([1, 2, 3].map(() => superviseInBackground(args)));
  await using first = runs[0];
  await using second = runs[1];
  await using third = runs[2];
  for (const run of [first, second, third]) {
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
  }
  assert.deepEqual([second.pid, third.pid], [first.pid, first.pid], "all name the one supervisor");
  assert.deepEqual(processesMentioning(service.path), [first.pid], "the others left nothing");
});

Deno.test("supervise --daemon --ok-if-running under a daemontools or runit lock (flock): refused at once (5), with or without --pidfile", async () => {
  await using service = await copyService("steady");
  await Deno.mkdir(`${service.path}/supervise`);
  const fd = open(`${service.path}/supervise/lock`, O.RDWR | O.CREAT | O.CLOEXEC, 0o600);
  try {
    assert.ok(flock(fd, LOCK.EX | LOCK.NB));
    for (const extra of [[], ["--pidfile", `${service.dir}/supervisor.pid`]]) {
      const started = Date.now();
      await using run = await superviseInBackground(["--ok-if-running", ...extra, service.path]);
      assert.equal(run.code, 5, run.stderr);
      assert.match(run.stderr, /already supervised by another supervisor .* with flock/);
      // Not waited on as a start under way (10 s): generous for a loaded machine.
      assert.ok(Date.now() - started < 8000, `${Date.now() - started} ms`);
    }
  } finally {
    close(fd);
  }
});

Deno.test("a daemonized supervisor obeys down and exit, and releases its pidfile", async () => {
  await using service = await copyService("steady");
  const pidfile = `${service.dir}/supervisor.pid`;
  await using run = await superviseInBackground(["--pidfile", pidfile, service.path]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(await Deno.readTextFile(pidfile), `${run.pid}\n`);
  const daemonStatus = await runOpsd(["daemon", "status", "--pidfile", pidfile]);
  assert.equal(daemonStatus.stdout, `running (pid ${run.pid})\n`);
  const servicePid = readStatus(resolveService(service.path))!.pid!;

  assert.equal((await runOpsd(["down", "-q", service.path])).code, 0);
  assert.equal((await runOpsd(["wait", service.path, "--down", "--timeout", "5s"])).code, 0);
  assert.equal(readProcStat(servicePid), null);
  assert.equal((await runOpsd(["up", "-q", service.path])).code, 0);
  assert.equal((await runOpsd(["wait", service.path, "--up", "--timeout", "5s"])).code, 0);

  assert.equal((await runOpsd(["exit", "-q", service.path])).code, 0);
  await waitFor("the supervisor to exit", () => !isAlive(run.pid));
  await waitFor("the pidfile removed", () => Deno.stat(pidfile).then(() => false, () => true));
  const status = await runOpsd(["status", service.path]);
  assert.equal(status.code, 3);
  assert.match(status.stdout, /: supervisor not running; down \d+ seconds?, killed by SIGTERM\n$/);
  // A control word says to start one as the last one ran, as status and wait say it.
  const up = await runOpsd(["up", service.path]);
  assert.equal(up.code, 3);
  assert.equal(
    up.stderr,
    `opsd up: no supervisor running for ${service.path}: start one with ` +
      `'opsd supervise --daemon ${service.path}'\n`,
  );
  assert.deepEqual(processesMentioning(service.dir), []);
});

Deno.test("a daemonized service wanted down (down file) is said so; kill -9 of the supervisor shows in status", async () => {
  await using service = await copyService("steady");
  await Deno.writeTextFile(`${service.path}/down`, "");
  await using run = await superviseInBackground([service.path]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stderr,
    `opsd supervise: ${service.path} is supervised but not started: it is normally down ` +
      `(${service.path}/down exists): start it with 'opsd up ${service.path}'\n`,
  );
  assert.equal((await runOpsd(["up", "-q", service.path])).code, 0);
  const up = await waitFor("up", () => {
    const record = readStatus(resolveService(service.path));
    return record?.state === "up" ? record : null;
  });
  try {
    Deno.kill(run.pid, "SIGKILL");
    await waitFor("the supervisor gone", () => !isAlive(run.pid));
    const status = await waitFor("status to notice", async () => {
      const result = await runOpsd(["status", service.path]);
      return result.code === 3 ? result : null;
    });
    assert.match(
      status.stdout,
      new RegExp(`supervisor not running; pid ${up.pid} still running unsupervised`),
    );
  } finally {
    killGroup(up.pgid!);
  }
});

Deno.test("after kill -9 of a --daemon supervisor, its log/ line names the service to supervise again; log/ alone is refused", async () => {
  await using service = await copyService("logged");
  await using run = await superviseInBackground([service.path]);
  assert.equal(run.code, 0, run.stderr);
  const log = readStatus(resolveService(service.path).log!)!;
  try {
    Deno.kill(run.pid, "SIGKILL");
    await waitFor("the supervisor gone", () => !isAlive(run.pid));
    const status = await runOpsd(["status", service.path]);
    assert.equal(status.code, 3);
    const again = `'opsd supervise --daemon ${service.path}' stops`;
    const [main, logLine] = status.stdout.split("\n");
    // run, and its sleep when it is in one.
    assert.match(main, /stops (it|them) and starts afresh$/);
    assert.ok(main.includes(again), main);
    assert.ok(logLine.startsWith(`${service.path}/log: supervisor not running; pid ${log.pid}`));
    assert.ok(logLine.endsWith(`${again} it and starts afresh`), logLine);
    const alone = await runOpsd(["supervise", `${service.path}/log`]);
    assert.deepEqual([alone.code, alone.stderr], [
      2,
      `opsd supervise: ${service.path}/log is the log service of ${service.path}: it is ` +
      "supervised with that service, which feeds it (alone it would read nothing): run " +
      `'opsd supervise ${service.path}'\n`,
    ]);
    assert.ok(isAlive(log.pid!), "the refusal stopped nothing");
  } finally {
    for (const role of ["main", "log"] as const) {
      const paths = resolveService(service.path);
      const record = readStatus(role === "log" ? paths.log! : paths);
      if (record?.pgid) killGroup(record.pgid);
    }
  }
});

Deno.test("supervise --daemon after kill -9: stopping what the old supervisor left does not count against --start-timeout", async () => {
  await using service = await copyService("stubborn"); // ignores TERM: stopped by KILL
  const args = ["--stop-timeout", "2s", service.path];
  await using first = await superviseInBackground(args);
  assert.equal(first.code, 0, first.stderr);
  const old = readStatus(resolveService(service.path))!;
  Deno.kill(first.pid, "SIGKILL");
  await waitFor("the supervisor gone", () => !isAlive(first.pid));
  await using second = await superviseInBackground(["--start-timeout", "1s", ...args]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(isAlive(old.pid!), false, "the leftover was stopped first");
  const fresh = readStatus(resolveService(service.path))!;
  assert.equal(fresh.state, "up");
  assert.notEqual(fresh.pid, old.pid);
});

Deno.test("supervise --daemon --start-timeout 0 waits with no time limit", async () => {
  await using service = await copyService("steady");
  await using run = await superviseInBackground(["--start-timeout", "0", service.path]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(readStatus(resolveService(service.path))!.supervisor.pid, run.pid);
  const help = await runOpsd(["supervise", "--help"]);
  assert.match(
    help.stdout.replace(/\s+/g, " "),
    /--start-timeout <duration> .* 0 waits with no time limit/,
  );
});

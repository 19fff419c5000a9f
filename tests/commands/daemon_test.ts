import assert from "node:assert/strict";
import { opsdArgv } from "../../lib/self.ts";
import { resolveCredentials } from "../../lib/process/credentials.ts";
import { sessionMembers } from "../../lib/procfs/processes.ts";
import { readProcStat } from "../../lib/procfs/stat.ts";
import { PR } from "../../lib/sys/constants.ts";
import { prctl } from "../../lib/sys/libc.ts";
import {
  isAlive,
  numberedFds,
  processesMentioning,
  runOpsd,
  tempDir,
  waitFor,
} from "../fixtures/mod.ts";
import {
  Daemons,
  listing,
  lockHolder,
  pidfileOfUnrelated,
  procFacts,
  reapIfChild,
  settledFds,
} from "../fixtures/daemon.ts";
import { sanitizedTest } from "../fixtures/sanitized.ts";

// Every daemon here is started by a real `opsd daemon` process that exits at once,
// as an operator would run it; `Daemons` kills whatever a test leaves running.

/** Runs `opsd daemon ARGS...` and returns the run with the pid it printed (--print-pid). */
async function daemon(args: string[], env?: Record<string, string>) {
  const run = await runOpsd(["daemon", "--print-pid", ...args], { env });
  return { ...run, pid: run.code === 0 ? Number(run.stdout.trim()) : 0 };
}

/** A `sleep` duration no other test run uses, to find its processes by command line. */
function uniqueSeconds(): string {
  return `30.${crypto.getRandomValues(new Uint32Array(1))[0]}`;
}

sanitizedTest(
  "the daemon leads a new session with no terminal, in / with umask 022, adopted by the nearest subreaper, holding only fds 0-2 and the pidfile lock",
  async () => {
    await using daemons = await Daemons.create();
    const { dir, pidfile } = daemons;
    // Run opsd under a pseudo-terminal (util-linux script), so there is a terminal to lose.
    const [program, ...args] = opsdArgv(["daemon", "--pidfile", pidfile, "--", "sleep", "30"]);
    const command = [program, ...args].map((word) => `'${word}'`).join(" ");
    prctl(PR.SET_CHILD_SUBREAPER, 1);
    try {
      const run = await new Deno.Command("script", {
        args: ["-qec", `cat /proc/$$/stat > ${dir}/shell.stat; ${command}`, "/dev/null"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(run.code, 0, new TextDecoder().decode(run.stdout));
      const shell = Deno.readTextFileSync(`${dir}/shell.stat`).split(") ")[1].split(" ");
      assert.notEqual(Number(shell[4]), 0, "opsd ran with a controlling terminal");
      const pid = daemons.track(Number(Deno.readTextFileSync(pidfile)));
      const facts = procFacts(pid);
      assert.equal(facts.ppid, Deno.pid, "opsd exited; this test, a subreaper, adopted the daemon");
      assert.equal(facts.sid, pid, "session leader");
      assert.equal(facts.ttyNr, 0, "no controlling terminal");
      assert.equal(facts.cwd, "/");
      assert.equal(facts.umask, "0022");
      assert.deepEqual([facts.sigBlk, facts.sigIgn], ["0000000000000000", "0000000000000000"]);
      const fds = { 0: "/dev/null", 1: "/dev/null", 2: "/dev/null", 3: pidfile };
      assert.deepEqual(await settledFds(pid, fds), fds);
      const stdinFlags = /^flags:\s+(\d+)$/m.exec(Deno.readTextFileSync(`/proc/${pid}/fdinfo/0`))!;
      assert.equal(parseInt(stdinFlags[1], 8) & 3, 0, "stdin is open read-only");
      assert.match(
        Deno.readTextFileSync(`/proc/${pid}/fdinfo/3`),
        /^lock:.*OFDLCK\s+ADVISORY\s+WRITE/m,
      );
      const environ = Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0");
      assert.ok(
        environ.includes("OPSD_PIDFILE_FD=3") && environ.includes(`OPSD_PIDFILE=${pidfile}`),
      );
    } finally {
      prctl(PR.SET_CHILD_SUBREAPER, 0);
    }
  },
);

sanitizedTest(
  "opsd fds agrees: the daemon holds exactly fds 0, 1, 2 and the pidfile lock on 3",
  async () => {
    await using daemons = await Daemons.create();
    const { pidfile } = daemons;
    const pid = await daemons.start(["--pidfile", pidfile, "--", "sleep", "30"]);
    const numbered = await numberedFds(pid);
    assert.deepEqual(numbered.map((row) => row.fd), [0, 1, 2, 3]);
    assert.equal(numbered[3].name, pidfile);
  },
);

sanitizedTest(
  "without a subreaper the daemon's parent is pid 1 or an ancestor of the caller, never opsd",
  async () => {
    await using daemons = await Daemons.create();
    const [program, ...args] = opsdArgv(["daemon", "--print-pid", "--", "sleep", "30"]);
    const opsd = new Deno.Command(program, { args, stdout: "piped", stderr: "piped" }).spawn();
    const output = await opsd.output();
    const pid = daemons.track(Number(new TextDecoder().decode(output.stdout)));
    const ancestors = [1];
    for (let p = Deno.pid; p > 1; p = readProcStat(p)!.ppid) ancestors.push(p);
    const { ppid } = procFacts(pid);
    assert.notEqual(ppid, opsd.pid);
    assert.ok(ancestors.includes(ppid), `ppid ${ppid} is not 1 or an ancestor (${ancestors})`);
  },
);

sanitizedTest(
  "--log receives stdout and stderr (appended); --umask, --chdir, --env and --env-file apply",
  async () => {
    await using daemons = await Daemons.create();
    const { dir } = daemons;
    const log = `${dir}/app.log`;
    Deno.writeTextFileSync(log, "earlier\n");
    Deno.writeTextFileSync(`${dir}/app.env`, "# settings\nA=from-file\nB='two words'\n");
    const script =
      'echo "out $A $B $C"; echo err >&2; umask; pwd; echo "${OPSD_PIDFILE_FD-none}"; ' +
      "exec sleep 30";
    await daemons.start([
      ...["--log", log, "--umask", "027", "--chdir", "/tmp"],
      ...["--env-file", `${dir}/app.env`, "--env", "A=from-flag", "--env", "C=c=c"],
      ...["--", "sh", "-c", script],
    ], { OPSD_PIDFILE_FD: "3" });
    const text = await waitFor("the log", () => {
      const text = Deno.readTextFileSync(log);
      return text.split("\n").length >= 7 && text;
    });
    assert.equal(text, "earlier\nout from-flag two words c=c\nerr\n0027\n/tmp\nnone\n");
  },
);

sanitizedTest(
  "--env-file lines ending in a backslash continue on the next line, quoted or not; an unclosed quote is refused (2) naming its line",
  async () => {
    await using daemons = await Daemons.create();
    const { dir } = daemons;
    const env = `${dir}/app.env`, log = `${dir}/app.log`;
    Deno.writeTextFileSync(
      env,
      'JAVA_OPTS=-Xmx1g \\\n  -Dfile.encoding=UTF-8\nBANNER="hello \\\nworld\nagain"\nDIR=C:\\\\\n',
    );
    await daemons.start([
      ...["--env-file", env, "--log", log],
      ...["--", "sh", "-c", 'printf "%s|" "$JAVA_OPTS" "$BANNER" "$DIR"; exec sleep 30'],
    ]);
    await waitFor("the log", () => Deno.readTextFileSync(log) !== "");
    assert.equal(
      Deno.readTextFileSync(log),
      "-Xmx1g   -Dfile.encoding=UTF-8|hello world\nagain|C:\\|",
    );
    Deno.writeTextFileSync(env, "A=1\nB='never \\\nclosed\n");
    const run = await runOpsd(["daemon", "--env-file", env, "--", "true"]);
    assert.deepEqual([run.code, run.stdout, run.stderr], [
      2,
      "",
      `opsd daemon: ${env}:2: unterminated ' quote: close it\n`,
    ]);
  },
);

sanitizedTest(
  "the daemon gets the environment opsd was given, exactly, as itself or as another user",
  async () => {
    await using daemons = await Daemons.create();
    const { dir } = daemons;
    // With no node in PATH, Deno puts a directory of its own first in its PATH: not the daemon's.
    for (const user of [[], ["--user", "nobody"]]) {
      const log = `${dir}/${user.length}.log`;
      await daemons.start(
        [...user, "--log", log, "--", "/bin/sh", "-c", 'echo "$PATH"; exec /bin/sleep 30'],
        { PATH: "/opsd-nowhere" },
      );
      await waitFor("the log", () => Deno.readTextFileSync(log) === "/opsd-nowhere\n");
    }
  },
);

sanitizedTest(
  "a second start is refused while the daemon runs, naming its pid; the first runs on",
  async () => {
    await using daemons = await Daemons.create();
    const { dir, pidfile } = daemons;
    const first = await daemons.start(["--pidfile", pidfile, "--", "sleep", "30"]);
    const seconds = uniqueSeconds();
    const second = await daemon(["--pidfile", pidfile, "--", "sleep", seconds]);
    assert.equal(second.code, 5);
    assert.equal(
      second.stderr,
      `opsd daemon: already running (pid ${first}): ` +
        `stop it with 'opsd daemon stop --pidfile ${pidfile}'\n`,
    );
    assert.deepEqual(processesMentioning(seconds), []);
    assert.equal(Deno.readTextFileSync(pidfile), `${first}\n`);
    assert.ok(isAlive(first));
    assert.deepEqual(listing(dir), ["app.pid"]);
  },
);

sanitizedTest(
  "--ok-if-running, as a cron line: three at once start one daemon, all exit 0 quietly with its pid; a foreign lock is still refused",
  async () => {
    await using daemons = await Daemons.create();
    const { dir, pidfile } = daemons;
    const seconds = uniqueSeconds();
    const runs = await Promise.all(
      [1, 2, 3].map(() =>
        daemon(["--ok-if-running", "--pidfile", pidfile, "--", "sleep", seconds])
      ),
    );
    const pids = runs.map((run) => daemons.track(run.pid));
    for (const run of runs) {
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, "");
    }
    assert.equal(new Set(pids).size, 1, `one daemon: ${pids}`);
    assert.deepEqual(processesMentioning(seconds), [pids[0]]);
    assert.equal(Deno.readTextFileSync(pidfile), `${pids[0]}\n`);
    assert.deepEqual(listing(dir), ["app.pid"]);
    const json = await runOpsd([
      "daemon",
      "--ok-if-running",
      "--json",
      "--pidfile",
      pidfile,
      "--",
      "sleep",
      "1",
    ]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { pid: pids[0], pidfile, alreadyRunning: true });

    // Locked, but not by the pid it names: no daemon of this pidfile to be content with.
    Deno.writeTextFileSync(pidfile, `${Deno.pid}\n`);
    const foreign = await daemon(["--ok-if-running", "--pidfile", pidfile, "--", "sleep", "1"]);
    assert.equal(foreign.code, 5);
    assert.match(foreign.stderr, /is locked by pid \d+ \(sleep\)/);
    const bare = await runOpsd(["daemon", "--ok-if-running", "--", "sleep", "1"]);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /--ok-if-running needs --pidfile/);
  },
);

sanitizedTest(
  "--ok-if-running: a daemon that itself reports '5 MESSAGE' on its readiness fd is started once, exit 5",
  async () => {
    await using dir = await tempDir();
    const pidfile = `${dir.path}/app.pid`, starts = `${dir.path}/starts`;
    const script = `echo started >> '${starts}'; echo '5 port busy' >&"$OPSD_READY_FD"`;
    const run = await runOpsd([
      ...["daemon", "--ok-if-running", "--pidfile", pidfile, "--wait-ready", "5s"],
      ...["--", "sh", "-c", script],
    ]);
    assert.equal(run.code, 5, run.stderr);
    assert.match(run.stderr, /port busy/);
    assert.equal(Deno.readTextFileSync(starts), "started\n", "not started again and again");
  },
);

sanitizedTest(
  "exec failure: 127 or 126 with the reason, nothing running, no pidfile left",
  async () => {
    await using dir = await tempDir();
    const pidfile = `${dir.path}/app.pid`;
    Deno.writeTextFileSync(`${dir.path}/run`, "#!/bin/sh\nsleep 30\n", { mode: 0o644 });
    const missing = await daemon(["--pidfile", pidfile, "--", "opsd-no-such-program"]);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /^opsd daemon: opsd-no-such-program: not found in PATH/);
    const notExecutable = await daemon(["--pidfile", pidfile, "--", `${dir.path}/run`]);
    assert.equal(notExecutable.code, 126);
    assert.equal(
      notExecutable.stderr,
      `opsd daemon: ${dir.path}/run: not executable: make it executable (chmod +x ${dir.path}/run)\n`,
    );
    assert.deepEqual(listing(dir.path), ["run"]);
    assert.deepEqual(processesMentioning(dir.path), []);
  },
);

sanitizedTest(
  "exec failure as another user is reported exactly too (through the exec shim)",
  async () => {
    await using dir = await tempDir();
    const pidfile = `${dir.path}/app.pid`;
    const run = await daemon([
      ...["--user", "nobody", "--pidfile", pidfile, "--env", "PATH=/usr/bin:/bin"],
      ...["--", "opsd-no-such-program"],
    ]);
    assert.equal(run.code, 127);
    assert.equal(
      run.stderr,
      "opsd daemon: opsd-no-such-program: not found in PATH (/usr/bin:/bin): check the name, " +
        "or give the program's full path\n",
    );
    assert.deepEqual(listing(dir.path), []);
  },
);

sanitizedTest(
  "PATH is searched as execvp searches it for the daemon's user: a directory it may not search is passed over, and named when nothing else is found (126)",
  async () => {
    await using daemons = await Daemons.create();
    const { dir, pidfile } = daemons;
    // dir is root's (0700): nobody may not search it. closed is nobody's (0700): root
    // without capabilities may not search it. Each holds a sleep that must not run.
    const closed = `${dir}/closed`;
    Deno.mkdirSync(closed);
    Deno.writeTextFileSync(`${closed}/sleep`, `#!/bin/sh\ntouch ${dir}/wrong\n`, { mode: 0o755 });
    Deno.chownSync(closed, 65534, 65534);
    Deno.chmodSync(closed, 0o700);
    const cases = [
      { user: "nobody", args: ["--user", "nobody"], blocked: dir, options: {} },
      { user: "root", args: [], blocked: closed, options: { withoutCapabilities: true } },
    ];
    for (const { user, args, blocked, options } of cases) {
      // --env: Deno puts a directory of its own first in the PATH of the processes it starts.
      const start = (path: string) =>
        runOpsd([
          ...["daemon", "--print-pid", "--pidfile", pidfile, "--env", `PATH=${path}`, ...args],
          ...["--", "sleep", "30"],
        ], options);
      const run = await start(`${closed}:/usr/bin:/bin`);
      assert.equal(run.code, 0, `${user}: ${run.stderr}`);
      const pid = daemons.track(Number(run.stdout));
      assert.equal(Deno.readLinkSync(`/proc/${pid}/exe`), "/usr/bin/sleep", user);
      assert.equal((await runOpsd(["daemon", "stop", "--pidfile", pidfile])).code, 0);
      const hidden = await start(closed);
      assert.deepEqual([hidden.code, hidden.stderr], [
        126,
        `opsd daemon: sleep: permission denied: user ${user} may not search ${blocked} ` +
        `(on the way to ${closed}/sleep) and finds sleep nowhere else in PATH: give the ` +
        "program's full path, or a PATH that user may search\n",
      ]);
    }
    assert.deepEqual(listing(dir), ["closed"], "no pidfile left, the wrong sleep never ran");
  },
);

sanitizedTest(
  "--chdir that the --user may not enter is refused (4), nothing left running; one it may enter is its cwd",
  async () => {
    await using daemons = await Daemons.create();
    const { dir, pidfile } = daemons;
    // dir is root's (0700): nobody may not enter it, though opsd (root) may.
    Deno.chmodSync(dir, 0o700);
    const mark = `${dir}/ran`;
    const refused = await runOpsd([
      ...["daemon", "--user", "nobody", "--chdir", dir, "--pidfile", pidfile],
      ...["--", "/bin/sh", "-c", `touch ${mark}; exec sleep 30`],
    ]);
    assert.deepEqual([refused.code, refused.stdout, refused.stderr], [
      4,
      "",
      `opsd daemon: cannot use working directory ${dir}: permission denied: user nobody may ` +
      "not enter it: choose a directory that user may enter, or give it search permission\n",
    ]);
    assert.deepEqual(listing(dir), [], "no pidfile, and the program never ran");
    const open = `${dir}/open`;
    Deno.mkdirSync(open);
    Deno.chmodSync(dir, 0o711);
    const pid = await daemons.start([
      ...["--user", "nobody", "--chdir", open, "--pidfile", pidfile, "--", "sleep", "30"],
    ]);
    assert.equal(Deno.readLinkSync(`/proc/${pid}/cwd`), open);
  },
);

sanitizedTest(
  "--user runs the daemon as that user with the same fds; pidfile and log are opened by opsd",
  async () => {
    await using daemons = await Daemons.create();
    const { dir, pidfile } = daemons;
    const log = `${dir}/new.log`;
    const pid = await daemons.start([
      ...["--user", "nobody", "--umask", "077", "--pidfile", pidfile, "--log", log],
      ...["--", "sh", "-c", "echo written by $(id -un); exec sleep 30"],
    ]);
    assert.equal(Deno.statSync(log).mode! & 0o777, 0o600, "created with the daemon's umask");
    await waitFor("the log line", () => Deno.readTextFileSync(log) === "written by nobody\n");
    const facts = procFacts(pid);
    assert.equal(facts.uid, resolveCredentials("nobody").uid);
    assert.deepEqual([facts.sigBlk, facts.sigIgn], ["0000000000000000", "0000000000000000"]);
    assert.equal(facts.sid, pid);
    const fds = { 0: "/dev/null", 1: log, 2: log, 3: pidfile };
    assert.deepEqual(await settledFds(pid, fds), fds);
    assert.equal(Deno.statSync(pidfile).uid, 0);
    assert.equal((await runOpsd(["daemon", "status", "--pidfile", pidfile])).code, 0);
  },
);

sanitizedTest(
  "--user as root without CAP_SETGID (a restricted container): the exec shim's refusal says why and what to do (4); nothing runs, no pidfile",
  async () => {
    await using dir = await tempDir();
    const pidfile = `${dir.path}/app.pid`, marker = `${dir.path}/ran`;
    const run = await runOpsd(
      ["daemon", "--user", "nobody", "--pidfile", pidfile, "--", "touch", marker],
      { withoutCapabilities: true },
    );
    assert.deepEqual([run.code, run.stdout, run.stderr], [
      4,
      "",
      'opsd daemon: cannot run as user "nobody": setgroups: EPERM (operation not permitted): ' +
      "opsd runs as root without CAP_SETGID (a restricted container?), and switching users " +
      "needs CAP_SETUID and CAP_SETGID: grant them, or drop --user\n",
    ]);
    assert.deepEqual(listing(dir.path), [], "no pidfile, and the command never ran");
  },
);

sanitizedTest(
  "the exec shim keeps its own environment: a HOME the daemon is given does not steer it",
  async () => {
    await using daemons = await Daemons.create();
    const { dir } = daemons;
    const home = `${dir}/home`, log = `${dir}/app.log`;
    Deno.mkdirSync(home, { mode: 0o777 });
    await daemons.start([
      ...["--user", "nobody", "--env", `HOME=${home}`, "--log", log],
      ...["--", "/bin/sh", "-c", 'echo "$HOME"; exec /bin/sleep 30'],
    ]);
    await waitFor("the log", () => Deno.readTextFileSync(log) === `${home}\n`);
    // The shim is a Deno process, root until it switches: its Deno would put a cache there.
    assert.deepEqual(listing(home), []);
  },
);

sanitizedTest(
  "--user sets HOME, USER and LOGNAME to the user's, even with --clear-env; --env-file and --env win",
  async () => {
    await using daemons = await Daemons.create();
    const { dir } = daemons;
    Deno.writeTextFileSync(`${dir}/app.env`, "LOGNAME=from-file\n");
    const script = 'echo "$HOME $USER $LOGNAME"; exec /bin/sleep 30';
    // The exec shim (a Deno process, root until it switches) must not take nobody's HOME for
    // its own: its Deno would create a cache there.
    const homeWas = _exists("/nonexistent");
    const cases: [string[], string][] = [
      [[], "/nonexistent nobody nobody"],
      [["--clear-env"], "/nonexistent nobody nobody"],
      [["--env-file", `${dir}/app.env`, "--env", "HOME=/srv"], "/srv nobody from-file"],
    ];
    for (const [index, [args, expected]] of cases.entries()) {
      const log = `${dir}/${index}.log`;
      await daemons.start([
        ...["--user", "nobody", "--log", log, ...args],
        ...["--", "/bin/sh", "-c", script],
      ]);
      await waitFor(`${args}: the log`, () => Deno.readTextFileSync(log) === `${expected}\n`);
    }
    assert.equal(_exists("/nonexistent"), homeWas, "nothing was created in nobody's HOME");
  },
);

sanitizedTest(
  "--group alone keeps opsd's user and environment, and makes the group the daemon's only one",
  async () => {
    await using daemons = await Daemons.create();
    const log = `${daemons.dir}/app.log`;
    const pid = await daemons.start([
      ...["--group", "nogroup", "--log", log],
      ...["--", "/bin/sh", "-c", 'echo "$HOME"; exec /bin/sleep 30'],
    ]);
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    assert.match(status, /^Uid:\s+0\s/m);
    assert.match(status, /^Gid:\s+65534\s+65534\s/m);
    assert.match(status, /^Groups:\s+65534\s*$/m);
    await waitFor("the log", () => Deno.readTextFileSync(log) === `${Deno.env.get("HOME")}\n`);
  },
);

sanitizedTest(
  "the lock holds while the daemon opens, reads and closes its own pidfile",
  async () => {
    await using daemons = await Daemons.create();
    const { dir } = daemons;
    const pidfile = `${dir}/app.pid`, log = `${dir}/app.log`;
    // The shell itself opens and closes the pidfile (exec 5<…; exec 5<&-), which would drop
    // a classic fcntl lock; cat reads it too.
    const script = 'i=0; while :; do cat "$OPSD_PIDFILE"; exec 5<"$OPSD_PIDFILE"; exec 5<&-; ' +
      "i=$((i+1)); [ $i = 5 ] && echo read-five-times; sleep 0.02; done";
    const pid = await daemons.start(["--pidfile", pidfile, "--log", log, "--", "sh", "-c", script]);
    await waitFor("five reads", () => Deno.readTextFileSync(log).includes("read-five-times"));
    assert.ok(Deno.readTextFileSync(log).startsWith(`${pid}\n`), "it read its own pid");
    const status = await runOpsd(["daemon", "status", "--pidfile", pidfile]);
    assert.deepEqual([status.code, status.stdout], [0, `running (pid ${pid})\n`]);
    const again = await daemon(["--pidfile", pidfile, "--", "true"]);
    assert.equal(again.code, 5);
  },
);

sanitizedTest(
  "status answers from the lock: running, or not running (missing, unlocked with a live pid, stale)",
  async () => {
    await using daemons = await Daemons.create();
    const { pidfile } = daemons;
    const status = (...extra: string[]) =>
      runOpsd(["daemon", "status", "--pidfile", pidfile, ...extra]);
    let run = await status();
    assert.deepEqual([run.code, run.stdout], [3, `not running (no pidfile ${pidfile})\n`]);
    run = await status("--json");
    assert.deepEqual([run.code, JSON.parse(run.stdout)], [
      3,
      {
        pidfile,
        state: "missing",
        pid: null,
        alive: false,
        name: null,
        holders: null,
        checked: true,
      },
    ]);
    const pid = await daemons.start(["--pidfile", pidfile, "--", "sleep", "30"]);
    run = await status("-q");
    assert.deepEqual([run.code, run.stdout], [0, ""]);
    run = await status("-q", "--json");
    assert.deepEqual([run.code, run.stdout], [0, ""], "-q wins over --json");
    run = await status();
    assert.deepEqual([run.code, run.stdout], [0, `running (pid ${pid})\n`]);
    run = await status("--json");
    assert.deepEqual([run.code, JSON.parse(run.stdout)], [
      0,
      { pidfile, state: "running", pid, alive: true, name: "sleep", holders: null, checked: true },
    ]);
  },
);

sanitizedTest(
  "status of a daemon that exited leaving a child holding the lock: running, but not as its dead pid, also to a user who may not see the child",
  async () => {
    await using daemons = await Daemons.create();
    const { pidfile } = daemons;
    const pid = await daemons.start(["--pidfile", pidfile, "--", "sh", "-c", "sleep 30 & exit 0"]);
    await waitFor("the daemon's own process gone", () => {
      reapIfChild(pid);
      return !isAlive(pid);
    });
    const [child] = sessionMembers(pid);
    const run = await runOpsd(["daemon", "status", "--pidfile", pidfile]);
    assert.deepEqual([run.code, run.stdout], [
      0,
      `running (pid ${pid} it names has exited; its session holds the lock: pid ${child} (sleep))\n`,
    ]);
    const json = await runOpsd(["daemon", "status", "--pidfile", pidfile, "--json"]);
    assert.deepEqual([json.code, JSON.parse(json.stdout)], [0, {
      pidfile,
      state: "running",
      pid,
      alive: false,
      name: null,
      holders: [{ pid: child, name: "sleep" }],
      checked: true,
    }]);
    // A user who may not read the session's fds: the lock is held, by whom it cannot see.
    Deno.chmodSync(daemons.dir, 0o755);
    const nobody = { asUser: { uid: 65534, gid: 65534 } };
    const unchecked = await runOpsd(["daemon", "status", "--pidfile", pidfile], nobody);
    assert.deepEqual([unchecked.code, unchecked.stdout, unchecked.stderr], [
      0,
      `running (pid ${pid} it names has exited; the lock is held by a process opsd may not ` +
      `see (find it as root with 'opsd fds --path ${pidfile}'))\n`,
      "",
    ]);
    const uncheckedJson = await runOpsd(
      ["daemon", "status", "--pidfile", pidfile, "--json"],
      nobody,
    );
    assert.deepEqual([uncheckedJson.code, JSON.parse(uncheckedJson.stdout)], [0, {
      pidfile,
      state: "running",
      pid,
      alive: false,
      name: null,
      holders: null,
      checked: false,
    }]);
  },
);

sanitizedTest(
  "a program that forks itself into the background keeps the lock while its pid exits: status and a second start name the holder (its session's, or with setsid the foreign one) instead of that pid",
  async () => {
    for (const setsid of ["", "setsid "]) {
      await using daemons = await Daemons.create();
      const { pidfile } = daemons;
      const seconds = uniqueSeconds();
      const pid = await daemons.start(
        ["--pidfile", pidfile, "--", "sh", "-c", `${setsid}sleep ${seconds} & exit 0`],
      );
      await waitFor("the daemon's own process gone", () => {
        reapIfChild(pid);
        return !isAlive(pid);
      });
      const holder = daemons.track(
        await waitFor("the background sleep", () => {
          const [found, ...more] = processesMentioning(seconds);
          return more.length === 0 && readProcStat(found)?.comm === "sleep" ? found : null;
        }),
      );
      const by = setsid
        ? `${pidfile} is locked by pid ${holder} (sleep); pid ${pid}, which it names, has ` +
          "exited and nothing is left in its session"
        : `running (pid ${pid} it names has exited; its session holds the lock: pid ${holder} (sleep))`;
      const todo = "if the program puts itself in the background, run it in the foreground " +
        `under opsd; stop the lock's holder yourself, then remove ${pidfile}`;
      const status = await runOpsd(["daemon", "status", "--pidfile", pidfile]);
      assert.deepEqual(
        [status.code, status.stdout],
        setsid ? [1, `${by}: ${todo}\n`] : [0, `${by}\n`],
      );
      const again = uniqueSeconds();
      const second = await daemon(["--pidfile", pidfile, "--", "sleep", again]);
      assert.deepEqual([second.code, second.stdout, second.stderr], [
        5,
        "",
        setsid
          ? `opsd daemon: ${by}: nothing started; ${todo}\n`
          : `opsd daemon: already ${by}: stop it with 'opsd daemon stop --pidfile ${pidfile}'\n`,
      ]);
      assert.deepEqual(processesMentioning(again), [], "nothing started");
      assert.equal(Deno.readTextFileSync(pidfile), `${pid}\n`, "the pidfile is kept");
      assert.ok(isAlive(holder));
    }
  },
);

sanitizedTest(
  "a pidfile locked by another process than the pid it names: status says which pid holds the lock, that it is not that pid, and what to do (1), as stop does; --json the same",
  async () => {
    await using dir = await tempDir();
    const pidfile = `${dir.path}/app.pid`;
    const unrelated = new Deno.Command("sleep", { args: ["30"] }).spawn();
    const exited = new Deno.Command("true").spawn();
    await exited.status;
    try {
      Deno.writeTextFileSync(pidfile, "");
      await using holder = await lockHolder(pidfile);
      const by = `${pidfile} is locked by pid ${holder.pid} (deno)`;
      const cases: [number | null, string, string][] = [
        [
          unrelated.pid,
          `pid ${unrelated.pid} (sleep), which it names, is alive but does not hold the lock`,
          "check which process is the daemon, stop it yourself, ",
        ],
        [
          exited.pid,
          `pid ${exited.pid}, which it names, has exited and nothing is left in its session`,
          "if the program puts itself in the background, run it in the foreground under opsd; " +
          "stop the lock's holder yourself, ",
        ],
        [null, "it names no pid", "check which process is the daemon, stop it yourself, "],
      ];
      for (const [pid, what, action] of cases) {
        // Rewritten in place, as by hand: the holder's lock on the file stays.
        Deno.writeTextFileSync(pidfile, pid === null ? "garbage\n" : `${pid}\n`);
        const status = await runOpsd(["daemon", "status", "--pidfile", pidfile]);
        assert.deepEqual([status.code, status.stdout, status.stderr], [
          1,
          `${by}; ${what}: ${action}then remove ${pidfile}\n`,
          "",
        ]);
        const json = await runOpsd(["daemon", "status", "--pidfile", pidfile, "--json"]);
        assert.deepEqual([json.code, JSON.parse(json.stdout)], [1, {
          pidfile,
          state: "foreign",
          pid,
          alive: pid === unrelated.pid,
          name: pid === unrelated.pid ? "sleep" : null,
          holders: [{ pid: holder.pid, name: "deno" }],
          checked: true,
        }]);
        const quiet = await runOpsd(["daemon", "status", "-q", "--pidfile", pidfile]);
        assert.deepEqual([quiet.code, quiet.stdout], [1, ""]);
        const stop = await runOpsd(["daemon", "stop", "--pidfile", pidfile, "--timeout", "100ms"]);
        assert.deepEqual([stop.code, stop.stdout, stop.stderr], [
          1,
          "",
          `opsd daemon stop: ${by}; ${what}: nothing signalled; ${action}then remove ${pidfile}\n`,
        ]);
        assert.ok(isAlive(unrelated.pid) && isAlive(holder.pid), "nothing signalled");
      }
      // A user who may not read those processes' fds cannot tell: running as the file says, unchecked.
      Deno.chmodSync(dir.path, 0o755);
      Deno.writeTextFileSync(pidfile, `${unrelated.pid}\n`);
      const unchecked = await runOpsd(["daemon", "status", "--pidfile", pidfile], {
        asUser: { uid: 65534, gid: 65534 },
      });
      assert.deepEqual([unchecked.code, unchecked.stdout], [
        0,
        `running (pid ${unrelated.pid}, as the pidfile says: opsd may not read its fds to check ` +
        "that it holds the lock; run as root to check)\n",
      ]);
    } finally {
      unrelated.kill("SIGKILL");
      await unrelated.status;
    }
  },
);

sanitizedTest(
  "an unlocked pidfile naming a live pid: status says it is alive but maybe not the daemon (3); stop leaves it and the file alone (1)",
  async () => {
    await using dir = await tempDir();
    const pidfile = `${dir.path}/app.pid`;
    // A live process that holds no lock: a pid reused since the daemon died, or never ours.
    const unrelated = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      const { pid } = unrelated;
      Deno.writeTextFileSync(pidfile, `${pid}\n`);
      const status = await runOpsd(["daemon", "status", "--pidfile", pidfile]);
      assert.deepEqual([status.code, status.stdout], [
        3,
        `not running under this pidfile: no process holds its lock; pid ${pid} (sleep) is ` +
        `alive but may not be the daemon (pids are reused): check it, then remove ${pidfile}\n`,
      ]);
      const json = await runOpsd(["daemon", "status", "--pidfile", pidfile, "--json"]);
      assert.deepEqual([json.code, JSON.parse(json.stdout)], [
        3,
        {
          pidfile,
          state: "unlocked",
          pid,
          alive: true,
          name: "sleep",
          holders: null,
          checked: true,
        },
      ]);
      const stop = await runOpsd(["daemon", "stop", "--pidfile", pidfile, "--timeout", "100ms"]);
      assert.deepEqual([stop.code, stop.stdout, stop.stderr], [
        1,
        "",
        `opsd daemon stop: pidfile ${pidfile} is not locked, so pid ${pid} (sleep), which is ` +
        `alive, may not be the daemon (pids are reused): nothing signalled, pidfile kept; ` +
        `check pid ${pid}, stop it yourself if it is the daemon, then remove ${pidfile}\n`,
      ]);
      const stopJson = await runOpsd(["daemon", "stop", "--pidfile", pidfile, "--json"]);
      assert.equal(stopJson.code, 1);
      assert.deepEqual(JSON.parse(stopJson.stdout), {
        pidfile,
        outcome: "unlocked",
        pid,
        alive: true,
        name: "sleep",
      });
      assert.ok(isAlive(pid), "the live process was not signalled");
      assert.equal(Deno.readTextFileSync(pidfile), `${pid}\n`, "the pidfile is kept");
    } finally {
      unrelated.kill("SIGKILL");
      await unrelated.status;
    }
  },
);

sanitizedTest(
  "an unlocked pidfile whose pid has exited is stale: status 3; stop removes it, 3 (0 and quiet with --ok-if-stopped)",
  async () => {
    await using dir = await tempDir();
    const pidfile = `${dir.path}/app.pid`;
    const exited = new Deno.Command("true").spawn();
    await exited.status;
    const { pid } = exited;
    Deno.writeTextFileSync(pidfile, `${pid}\n`);
    const status = await runOpsd(["daemon", "status", "--pidfile", pidfile]);
    assert.deepEqual([status.code, status.stdout], [
      3,
      `not running (stale pidfile ${pidfile}: pid ${pid} has exited)\n`,
    ]);
    const json = await runOpsd(["daemon", "status", "--pidfile", pidfile, "--json"]);
    assert.deepEqual(JSON.parse(json.stdout), {
      pidfile,
      state: "stale",
      pid,
      alive: false,
      name: null,
      holders: null,
      checked: true,
    });
    const stop = await runOpsd(["daemon", "stop", "--pidfile", pidfile, "--json"]);
    assert.deepEqual([stop.code, JSON.parse(stop.stdout), stop.stderr], [
      3,
      { pidfile, outcome: "not-running", pid, alive: false, stale: true, removed: true },
      `opsd daemon stop: not running: removed stale pidfile ${pidfile} (pid ${pid} had exited)\n`,
    ]);
    assert.deepEqual(listing(dir.path), []);
    // One opsd may not remove (another user's directory, a read-only file system) is kept,
    // saying why: still not running (3), not a permission error.
    Deno.writeTextFileSync(pidfile, `${pid}\n`);
    Deno.chmodSync(dir.path, 0o755);
    const nobody = { uid: 65534, gid: 65534 };
    const kept = await runOpsd(["daemon", "stop", "--pidfile", pidfile, "--json"], {
      asUser: nobody,
    });
    assert.deepEqual([kept.code, JSON.parse(kept.stdout), kept.stderr], [
      3,
      {
        pidfile,
        outcome: "not-running",
        pid,
        alive: false,
        stale: true,
        removed: false,
        kept: "permission denied",
      },
      `opsd daemon stop: not running: kept stale pidfile ${pidfile} (pid ${pid} had exited): ` +
      "cannot remove it (permission denied)\n",
    ]);
    assert.deepEqual(listing(dir.path), ["app.pid"]);
    const keptOk = await runOpsd(["daemon", "stop", "--ok-if-stopped", "--pidfile", pidfile], {
      asUser: nobody,
    });
    assert.equal(keptOk.code, 0, "not running, as asked: the kept file is still said");
    assert.match(keptOk.stderr, /^opsd daemon stop: not running: kept stale pidfile /);
    // --ok-if-stopped, as a cron line: not running is success, quiet once no pidfile is left.
    const removed = await runOpsd(["daemon", "stop", "--ok-if-stopped", "--pidfile", pidfile]);
    assert.deepEqual([removed.code, removed.stdout, removed.stderr], [0, "", ""]);
    assert.deepEqual(listing(dir.path), []);
    const none = await runOpsd(["daemon", "stop", "--ok-if-stopped", "--pidfile", pidfile]);
    assert.deepEqual([none.code, none.stdout, none.stderr], [0, "", ""]);
  },
);

sanitizedTest(
  "a file holding something other than a pid: status, stop and start refuse it (2), leaving it as it was",
  async () => {
    await using dir = await tempDir();
    const pidfile = `${dir.path}/app.pid`;
    Deno.writeTextFileSync(pidfile, "garbage\n");
    const refusal = `${pidfile} holds something other than a pid: no pidfile, so opsd neither ` +
      `replaces nor removes it: name the daemon's pidfile, or remove ${pidfile} yourself if it ` +
      "is a leftover";
    for (const json of [[], ["--json"]]) {
      const status = await runOpsd(["daemon", "status", "--pidfile", pidfile, ...json]);
      assert.deepEqual([status.code, status.stdout, status.stderr], [
        2,
        "",
        `opsd daemon status: ${refusal}\n`,
      ]);
    }
    const stop = await runOpsd(["daemon", "stop", "--pidfile", pidfile]);
    assert.deepEqual([stop.code, stop.stderr], [2, `opsd daemon stop: ${refusal}\n`]);
    const start = await runOpsd(["daemon", "--pidfile", pidfile, "--", "true"]);
    assert.deepEqual([start.code, start.stderr], [2, `opsd daemon: ${refusal}\n`]);
    assert.deepEqual(listing(dir.path), ["app.pid"]);
    assert.equal(Deno.readTextFileSync(pidfile), "garbage\n");
  },
);

sanitizedTest(
  "a pidfile left by a daemon that died is recognised as stale and replaced",
  async () => {
    await using daemons = await Daemons.create();
    const { dir, pidfile } = daemons;
    const crashed = await daemons.start([
      "--pidfile",
      pidfile,
      "--",
      "sh",
      "-c",
      "sleep 0.2; exit 1",
    ]);
    await waitFor(
      "the daemon to die",
      async () => (await runOpsd(["daemon", "status", "--pidfile", pidfile])).code === 3,
    );
    const run = await runOpsd(["daemon", "--json", "--pidfile", pidfile, "--", "sleep", "30"]);
    assert.deepEqual([run.code, run.stderr], [0, ""]);
    const started = JSON.parse(run.stdout);
    daemons.track(started.pid);
    assert.deepEqual(started, {
      pid: started.pid,
      pidfile,
      replaced: crashed,
      command: ["sleep", "30"],
    });
    assert.equal(Deno.readTextFileSync(pidfile), `${started.pid}\n`);
    assert.deepEqual(listing(dir), ["app.pid"]);
  },
);

sanitizedTest(
  "a start that replaces an unlocked pidfile whose pid is alive says so on stderr: it may be an old instance",
  async () => {
    await using unrelated = await pidfileOfUnrelated();
    await using daemons = await Daemons.create();
    const run = await runOpsd([
      "daemon",
      "--print-pid",
      "--pidfile",
      unrelated.path,
      "--",
      "sleep",
      "30",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const pid = daemons.track(Number(run.stdout));
    assert.equal(
      run.stderr,
      `opsd daemon: note: ${unrelated.path} named pid ${unrelated.pid} (sleep), which is alive ` +
        "but did not hold its lock (pids are reused): if it is an earlier instance that closed " +
        `fd 3, it still runs beside pid ${pid}; stop it yourself\n`,
    );
    assert.ok(isAlive(unrelated.pid), "the old pid is left alone");
    assert.equal(Deno.readTextFileSync(unrelated.path), `${pid}\n`);
  },
);

sanitizedTest(
  "stop signals the daemon, waits for its lock, removes the pidfile; quiet",
  async () => {
    await using daemons = await Daemons.create();
    const { dir, pidfile } = daemons;
    const pid = await daemons.start(["--pidfile", pidfile, "--", "sleep", "30"]);
    const stop = await runOpsd(["daemon", "stop", "--pidfile", pidfile]);
    assert.deepEqual([stop.code, stop.stdout, stop.stderr], [0, "", ""]);
    assert.equal(isAlive(pid), false);
    assert.deepEqual(listing(dir), []);
    const again = await runOpsd(["daemon", "stop", "--pidfile", pidfile]);
    assert.deepEqual([again.code, again.stderr], [
      3,
      `opsd daemon stop: not running: no pidfile ${pidfile}\n`,
    ]);
  },
);

sanitizedTest(
  "two stops at the same instant (cron lines): one stops it, the other finds it gone (3, or 0 and quiet with --ok-if-stopped), never a 'locked by' refusal",
  async () => {
    await using daemons = await Daemons.create();
    const { dir, pidfile } = daemons;
    // The race is a few microseconds wide (the daemon exits between the other's look and
    // its signal): several rounds meet it.
    for (const ok of [[], ["--ok-if-stopped"]]) {
      for (let round = 0; round < 5; round++) {
        await daemons.start(["--pidfile", pidfile, "--", "sleep", "30"]);
        const stops = await Promise.all(
          [1, 2].map(() => runOpsd(["daemon", "stop", ...ok, "--pidfile", pidfile])),
        );
        const codes = stops.map((stop) => stop.code).sort();
        const said = stops.map((stop) => stop.stderr).join("");
        if (ok.length > 0) assert.deepEqual([codes, said], [[0, 0], ""], `round ${round}`);
        else {
          // The other is done as well (0) when it finds the lock released as it signals.
          assert.ok(codes[0] === 0 && [0, 3].includes(codes[1]), `${codes}: ${said}`);
          assert.match(said, codes[1] === 3 ? /^opsd daemon stop: not running: / : /^$/);
        }
        assert.deepEqual(listing(dir), []);
      }
    }
  },
);

sanitizedTest(
  "stop kills a daemon that ignores TERM, and everything in its session, after --timeout",
  async () => {
    await using daemons = await Daemons.create();
    const { dir, pidfile } = daemons;
    // sh ignores TERM, and so do the sleeps it starts (an ignored signal stays ignored across exec).
    const script = "trap '' TERM; sleep 30 & while :; do sleep 0.05; done";
    const pid = await daemons.start(["--pidfile", pidfile, "--", "sh", "-c", script]);
    await waitFor("the background sleep", () => sessionMembers(pid).length >= 2);
    const stop = await runOpsd([
      ...["daemon", "stop", "--pidfile", pidfile],
      ...["--timeout", "300ms", "--signal", "TERM", "--json"],
    ]);
    assert.equal(stop.code, 0, stop.stderr);
    const result = JSON.parse(stop.stdout);
    assert.deepEqual({ ...result, elapsed: 0 }, {
      pidfile,
      outcome: "stopped",
      pid,
      signal: "SIGTERM",
      killed: true,
      elapsed: 0,
    });
    assert.ok(result.elapsed >= 300, `elapsed ${result.elapsed} ms`);
    assert.equal(
      stop.stderr,
      `opsd daemon stop: pid ${pid} did not stop within 300 ms of SIGTERM: killed its session\n`,
    );
    assert.deepEqual(sessionMembers(pid), [], "no orphan left in its session");
    assert.deepEqual(listing(dir), []);
  },
);

sanitizedTest(
  "daemon stop of a shell that dies of TERM while its child keeps the lock: the child gets TERM too, at once",
  async () => {
    await using daemons = await Daemons.create();
    const { dir, pidfile } = daemons;
    // Not exec'd (a command follows): sh dies of TERM, the sleep would not hear of it.
    const pid = await daemons.start(["--pidfile", pidfile, "--", "sh", "-c", "sleep 30; :"]);
    await waitFor("the sleep", () => sessionMembers(pid).length >= 2);
    const stop = await runOpsd([
      ...["daemon", "stop", "--pidfile", pidfile, "--timeout", "20s", "--json"],
    ]);
    assert.equal(stop.code, 0, stop.stderr);
    const result = JSON.parse(stop.stdout);
    assert.equal(result.killed, false, stop.stdout);
    assert.ok(result.elapsed < 10_000, `elapsed ${result.elapsed} ms`);
    assert.deepEqual(sessionMembers(pid), [], "no orphan left in its session");
    assert.deepEqual(listing(dir), []);
  },
);

sanitizedTest(
  "concurrent starts on one pidfile: exactly one daemon runs, the others exit 5",
  async () => {
    await using daemons = await Daemons.create();
    const { dir, pidfile } = daemons;
    const runs = await Promise.all(
      [1, 2, 3, 4].map(() => daemon(["--pidfile", pidfile, "--", "sleep", "30"])),
    );
    runs.filter((run) => run.code === 0).forEach((run) => daemons.track(run.pid));
    assert.deepEqual(
      runs.map((run) => run.code).sort(),
      [0, 5, 5, 5],
      runs.map((r) => r.stderr).join(""),
    );
    const winner = runs.find((run) => run.code === 0)!;
    assert.equal(Deno.readTextFileSync(pidfile), `${winner.pid}\n`);
    assert.deepEqual(listing(dir), ["app.pid"]);
  },
);

sanitizedTest(
  "stop reaches what the daemon left behind when its own process has exited",
  async () => {
    await using daemons = await Daemons.create();
    const { dir, pidfile } = daemons;
    // sh exits at once; the sleep it started keeps fd 3, and with it the lock.
    const pid = await daemons.start(["--pidfile", pidfile, "--", "sh", "-c", "sleep 30 & exit 0"]);
    await waitFor("sh to exit", () => !isAlive(pid));
    const [sleeper] = sessionMembers(pid);
    assert.ok(sleeper, "the sleep still runs in the daemon's session");
    daemons.track(sleeper);
    const status = await runOpsd(["daemon", "status", "--pidfile", pidfile]);
    assert.equal(status.code, 0, "the lock is held, so it counts as running");
    const stop = await runOpsd(["daemon", "stop", "--pidfile", pidfile, "--json"]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(JSON.parse(stop.stdout).killed, false, "TERM to its session sufficed");
    assert.equal(isAlive(sleeper), false);
    assert.deepEqual(listing(dir), []);
  },
);

sanitizedTest(
  "stop of a daemon whose own process has exited signals what it left behind once, not twice",
  async () => {
    await using daemons = await Daemons.create();
    const { dir, pidfile } = daemons;
    // The child counts the TERMs it gets; a busy loop runs its trap at each.
    const child = `trap 'echo T >> ${dir}/terms' TERM; while :; do :; done`;
    const pid = await daemons.start([
      ...["--pidfile", pidfile, "--", "sh", "-c", `sh -c "${child}" & exit 0`],
    ]);
    await waitFor("sh to exit", () => !isAlive(pid));
    const [counter] = sessionMembers(pid);
    daemons.track(counter);
    const stop = await runOpsd(["daemon", "stop", "--pidfile", pidfile, "--timeout", "1s"]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(Deno.readTextFileSync(`${dir}/terms`), "T\n", "one TERM, then KILL");
    assert.equal(isAlive(counter), false);
  },
);

sanitizedTest(
  "--wait-ready returns once the daemon says so; a daemon that does not is killed, exit 6",
  async () => {
    await using daemons = await Daemons.create();
    const { dir, pidfile } = daemons;
    const ready = 'sleep 0.3; echo >&"$OPSD_READY_FD"; exec sleep 30';
    const started = Date.now();
    const pid = await daemons.start([
      "--wait-ready",
      "10s",
      "--pidfile",
      pidfile,
      "--",
      "sh",
      "-c",
      ready,
    ]);
    assert.ok(Date.now() - started >= 300, "it waited for the newline");
    assert.ok(isAlive(pid));
    const seconds = uniqueSeconds();
    const slow = await runOpsd([
      ...["daemon", "--wait-ready", "300ms", "--pidfile", `${dir}/slow.pid`],
      ...["--", "sleep", seconds],
    ]);
    assert.equal(slow.code, 6, slow.stderr);
    assert.match(
      slow.stderr,
      /^opsd daemon: pid \d+ did not report ready within 300 ms: stopped it; if it needs longer, raise --wait-ready \(0: no limit\)\n$/,
    );
    assert.deepEqual(processesMentioning(seconds), []);
    assert.deepEqual(listing(dir), ["app.pid"]);
  },
);

sanitizedTest(
  "opsd interrupted while it waits for readiness stops the daemon, removes its pidfile, says so and exits 128+N",
  async () => {
    await using dir = await tempDir();
    const pidfile = `${dir.path}/w.pid`;
    const signals = [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129], ["SIGUSR2", 140], [
      "SIGALRM",
      142,
    ]] as const;
    for (const [signal, code] of signals) {
      const seconds = uniqueSeconds();
      const [program, ...args] = opsdArgv([
        ...["daemon", "--pidfile", pidfile, "--wait-ready", "30s"],
        ...["--", "sleep", seconds],
      ]);
      const opsd = new Deno.Command(program, { args, stdout: "piped", stderr: "piped" }).spawn();
      const pid = await waitFor("the pidfile", () => {
        try {
          return Number(Deno.readTextFileSync(pidfile));
        } catch {
          return 0;
        }
      });
      opsd.kill(signal);
      const output = await opsd.output();
      assert.deepEqual([output.code, new TextDecoder().decode(output.stderr)], [
        code,
        `opsd daemon: interrupted by ${signal} while waiting for pid ${pid} to report ready: ` +
        `stopped it and removed ${pidfile}\n`,
      ]);
      assert.deepEqual(processesMentioning(seconds), [], signal);
      assert.deepEqual(listing(dir.path), [], signal);
    }
  },
);

sanitizedTest(
  "--wait-ready 0 waits with no time limit (as opsd wait --timeout 0 does)",
  async () => {
    await using daemons = await Daemons.create();
    const { pidfile } = daemons;
    const ready = 'sleep 0.5; echo "0 listening" >&"$OPSD_READY_FD"; exec sleep 30';
    const started = Date.now();
    const run = await runOpsd([
      ...["daemon", "--wait-ready", "0", "--json", "--pidfile", pidfile],
      ...["--", "sh", "-c", ready],
    ]);
    assert.equal(run.code, 0, run.stderr);
    const { pid, ready: said } = JSON.parse(run.stdout);
    daemons.track(pid);
    assert.ok(Date.now() - started >= 500, "it waited for the readiness line");
    assert.equal(said, "listening");
    assert.ok(isAlive(pid));
    const help = await runOpsd(["daemon", "--help"]);
    assert.match(
      help.stdout.replace(/\s+/g, " "),
      /--wait-ready <duration> .* 0 waits with no time limit/,
    );
  },
);

sanitizedTest("`opsd daemon -- stop` runs a program called stop, not the subcommand", async () => {
  await using dir = await tempDir();
  for (const name of ["stop", "status"]) {
    Deno.writeTextFileSync(
      `${dir.path}/${name}`,
      `#!/bin/sh\necho "$@" > ${dir.path}/${name}.ran\n`,
      {
        mode: 0o755,
      },
    );
    const run = await daemon(["--", name, "--pidfile", "x"], {
      PATH: `${dir.path}:${Deno.env.get("PATH")}`,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      await waitFor(`${name} to run`, () => {
        try {
          return Deno.readTextFileSync(`${dir.path}/${name}.ran`);
        } catch {
          return "";
        }
      }),
      "--pidfile x\n",
    );
  }
});

sanitizedTest(
  "--print-pid or --json that cannot be written: the daemon is stopped, its pidfile removed, exit 1 in one line",
  async () => {
    await using dir = await tempDir();
    const pidfile = `${dir.path}/app.pid`;
    for (const flag of ["--print-pid", "--json"]) {
      const seconds = uniqueSeconds();
      const { code, stderr } = await runOpsd(
        ["daemon", flag, "--pidfile", pidfile, "--", "sleep", seconds],
        { stdoutTo: "/dev/full" },
      );
      assert.equal(code, 1, stderr);
      assert.match(
        stderr,
        new RegExp(
          "^opsd daemon: cannot write pid \\d+ to stdout: ENOSPC \\(no space left on device\\): " +
            `stopped it and removed ${pidfile}, so no daemon runs that the caller was not told of\n$`,
        ),
      );
      assert.deepEqual(processesMentioning(seconds), [], flag);
      assert.deepEqual(listing(dir.path), [], flag);
    }
  },
);

sanitizedTest(
  "a mistyped subcommand starts nothing: it is refused (2) with the command meant and how to run a program of that name",
  async () => {
    await using dir = await tempDir();
    const pidfile = `${dir.path}/a.pid`;
    const cases: [string[], string, string][] = [
      [["stpo"], "stpo", "stop"],
      [["--log", `${dir.path}/L`, "stat", "--pidfile", pidfile], "stat", "status"],
    ];
    for (const [args, word, meant] of cases) {
      const run = await runOpsd(["daemon", ...args]);
      assert.deepEqual([run.code, run.stderr], [
        2,
        `opsd daemon: unknown command '${word}' (did you mean 'opsd daemon ${meant}'?): ` +
        `to run a program named ${word}, put -- before it (see 'opsd daemon --help')\n`,
      ]);
    }
    assert.deepEqual(listing(dir.path), [], "no log, no pidfile: nothing started");
  },
);

sanitizedTest(
  "bad input: one line, the documented code, nothing started, no pidfile created",
  async () => {
    await using dir = await tempDir();
    const pidfile = `${dir.path}/app.pid`;
    const marker = `${dir.path}/started`;
    const cases: [string[], number, RegExp][] = [
      [
        ["--no-such-option"],
        2,
        /^opsd daemon: unknown option '--no-such-option' \(see 'opsd daemon --help'\)\n$/,
      ],
      [["--pidfile", `${dir.path}/missing/app.pid`], 2, /directory .*\/missing does not exist/],
      [["--pidfile", "/sys/opsd-test.pid"], 4, /cannot create pidfile \/sys\/opsd-test\.pid: /],
      [["--user", "opsd-no-such-user"], 2, /unknown user "opsd-no-such-user"/],
      [["--env-file", `${dir.path}/missing.env`], 2, /cannot read --env-file .*: no such file/],
      [["--umask", "0999"], 2, /--umask: bad value '0999'/],
      [
        ["--chdir", `${dir.path}/missing`],
        2,
        /working directory \S+\/missing does not exist: create it, or choose another with --chdir\n$/,
      ],
      [
        ["--chdir", "/etc/passwd"],
        2,
        /working directory \/etc\/passwd is not a directory: choose a directory with --chdir\n$/,
      ],
      [
        ["--pidfile", ""],
        2,
        /^opsd daemon: --pidfile: bad value '': expected a path, not an empty string/,
      ],
      [
        ["--pidfile", `${dir.path}/app.pid/`],
        2,
        /^opsd daemon: --pidfile: bad value '\S+\/app\.pid\/': expected a file's path, not one ending in \/ /,
      ],
      [["--log", ""], 2, /--log: bad value '': expected a path/],
      [
        ["--log", `${dir.path}/missing/app.log`],
        2,
        /cannot open log .*: directory .* does not exist/,
      ],
      [["--env", "NOT A SETTING"], 2, /expected KEY=VALUE/],
    ];
    for (const [options, code, message] of cases) {
      const ownPidfile = options.includes("--pidfile") ? [] : ["--pidfile", pidfile];
      const run = await runOpsd(["daemon", ...ownPidfile, ...options, "--", "touch", marker]);
      assert.equal(run.code, code, `${options}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stderr.split("\n")[0].startsWith("opsd daemon: "), true, run.stderr);
      assert.deepEqual(listing(dir.path), [], `${options} left files`);
    }
  },
);

function _exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

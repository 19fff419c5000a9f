import assert from "node:assert/strict";
import { readProcStat } from "../../lib/procfs/stat.ts";
import { resolveService } from "../../lib/service/paths.ts";
import { statusReports } from "../../lib/supervise/report.ts";
import { opsdArgv } from "../../lib/self.ts";
import { isAlive, runOpsd, tempDir, waitFor, waitIdle } from "../fixtures/mod.ts";
import { copyService, startSupervisor } from "../fixtures/supervise.ts";

const encoder = new TextEncoder();

Deno.test("status shows the log service on a second line; svc letters and wait drive it", async () => {
  await using service = await copyService("logged");
  await using supervisor = await startSupervisor(service.path);
  await supervisor.waitStatus("log up", (s) => s.state === "up", { role: "log" });
  await supervisor.waitStatus("up", (s) => s.state === "up");
  const status = await runOpsd(["status", service.path]);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  const [main, log] = status.stdout.trimEnd().split("\n");
  assert.match(
    main,
    new RegExp(`^${service.path}: up \\(pid \\d+, pgid \\d+\\) \\d+ seconds?, normally up$`),
  );
  assert.match(
    log,
    new RegExp(`^${service.path}/log: up \\(pid \\d+, pgid \\d+\\) \\d+ seconds?, normally up$`),
  );
  // With its log service down, the service's line says its stdout may block.
  assert.equal((await runOpsd(["down", `${service.path}/log`])).code, 0);
  await supervisor.waitStatus("log down", (s) => s.state === "down", { role: "log" });
  assert.match(
    (await runOpsd(["status", service.path])).stdout,
    /normally up; its stdout goes to log\/, which is not up: once the pipe is full the service blocks writing\n/,
  );
  // Nor is it up for wait --up, as for status: its log/ is down.
  const logDown = await runOpsd(["wait", service.path, "--up", "--timeout", "300ms"]);
  assert.equal(logDown.code, 6);
  assert.match(
    logDown.stderr,
    new RegExp(`waiting for ${service.path}/log to be up; now down \\d+ seconds?, `),
  );
  assert.equal((await runOpsd(["up", `${service.path}/log`])).code, 0);
  await supervisor.waitStatus("log up again", (s) => s.state === "up", { role: "log" });
  // Paused (STOP), it reads nothing either.
  assert.equal((await runOpsd(["pause", `${service.path}/log`])).code, 0);
  assert.match(
    (await runOpsd(["status", service.path])).stdout,
    /normally up; its stdout goes to log\/, which is paused: once the pipe is full the service blocks writing\n/,
  );
  assert.equal((await runOpsd(["cont", `${service.path}/log`])).code, 0);

  const down = await runOpsd(["svc", "-d", service.path]);
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /: stopping \(pid \d+, pgid \d+\), KILL in [\d.]+ s, want down\n$/);
  assert.equal((await runOpsd(["wait", service.path, "--down", "--timeout", "5s"])).code, 0);
  const stillDown = await runOpsd(["status", service.path]);
  assert.equal(stillDown.code, 1, "down is not up");
  assert.match(stillDown.stdout, /: down \d+ seconds?, killed by SIGTERM, normally up\n/);
  assert.doesNotMatch(stillDown.stdout, / \| /, "no tail under a service that is down as asked");
  // -q, for 'if opsd status -q web': the exit code alone; errors still said.
  const quietDown = await runOpsd(["status", "-q", service.path]);
  assert.deepEqual([quietDown.code, quietDown.stdout, quietDown.stderr], [1, "", ""]);
  // As 'opsd down -q --json' prints nothing: -q wins over --json.
  const quietJson = await runOpsd(["status", "-q", "--json", service.path]);
  assert.deepEqual([quietJson.code, quietJson.stdout, quietJson.stderr], [1, "", ""]);
  const quietUnknown = await runOpsd(["status", "-q", `${service.path}/nothing`]);
  assert.deepEqual([quietUnknown.code, quietUnknown.stdout], [2, ""]);
  assert.match(quietUnknown.stderr, /^opsd status: no such service: /);
  const late = await runOpsd(["wait", service.path, "--up", "--timeout", "300ms"]);
  assert.equal(late.code, 6);
  assert.match(late.stderr, /timed out after 300 ms waiting for .* to be up; now down/);

  const quiet = await runOpsd(["svc", "-hq", service.path]);
  assert.deepEqual(
    [quiet.code, quiet.stdout, quiet.stderr],
    [1, "", `opsd svc: ${service.path} is not running: nothing to send SIGHUP to\n`],
    "-q clusters with the letters",
  );
  assert.equal((await runOpsd(["svc", "-u", service.path, "-q"])).code, 0);
  assert.equal((await runOpsd(["wait", service.path, "--up"])).code, 0);
  const quietUp = await runOpsd(["status", "-q", service.path]);
  assert.deepEqual([quietUp.code, quietUp.stdout, quietUp.stderr], [0, "", ""]);
  const quietJsonUp = await runOpsd(["status", "-q", "--json", service.path]);
  assert.deepEqual(
    [quietJsonUp.code, quietJsonUp.stdout],
    [0, ""],
    "-q wins over --json, as for up -q",
  );
  const bad = await runOpsd(["svc", "-z", service.path]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown letter -z: use -u -d -o -p -c -h -a -i -t -k -x/);
  const capital = await runOpsd(["svc", "-uZ", service.path]);
  assert.equal(capital.code, 2, "a capital letter is an unknown letter, not a service name");
  assert.match(capital.stderr, /unknown letter -Z: /);
});

Deno.test("svc takes what follows -- as services, also one whose name starts with a dash", async () => {
  await using service = await copyService("steady");
  await Deno.rename(service.path, `${service.dir}/-web`);
  const svc = await runOpsd(["svc", "-d", "--", "-web"], { cwd: service.dir });
  assert.equal(svc.code, 3, "asked of the service -web, not read as letters -w -e -b");
  assert.match(svc.stderr, /^opsd svc: no supervisor running for \S+\/-web: /);
  const letters = await runOpsd(["svc", "-d", "-web"], { cwd: service.dir });
  assert.equal(letters.code, 2, "without --, -web is letters");
});

Deno.test("status looks at the services together: stopped supervisors, each asked for 2 s, are asked at once", async () => {
  await using first = await copyService("steady");
  await using second = await copyService("steady");
  await using one = await startSupervisor(first.path);
  await using two = await startSupervisor(second.path);
  const ups = [
    await one.waitStatus("up", (s) => s.state === "up"),
    await two.waitStatus("up", (s) => s.state === "up"),
  ];
  // Each record says up, its main process is gone, and its supervisor does not answer.
  for (const supervisor of [one, two]) Deno.kill(supervisor.pid, "SIGSTOP");
  try {
    for (const up of ups) Deno.kill(up.pid!, "SIGKILL");
    const started = Date.now();
    const status = await runOpsd(["status", first.path, second.path]);
    const elapsed = Date.now() - started;
    assert.equal(status.code, 1, status.stderr);
    const lines = status.stderr.trimEnd().split("\n");
    assert.deepEqual(
      lines.map((line) =>
        line.match(/^opsd status: (\S+)\/supervise\/status\.json is out of date: /)?.[1]
      ),
      [first.path, second.path],
      status.stderr,
    );
    // One after the other, they would take over 4 s; an opsd run alone may take a while when busy.
    assert.ok(elapsed >= 1900 && elapsed < 3900, `${elapsed} ms`);
  } finally {
    for (const supervisor of [one, two]) Deno.kill(supervisor.pid, "SIGCONT");
  }
});

Deno.test("pause, cont, hup, alarm, restart and once do what svc's letters do", async () => {
  await using service = await copyService("trapper");
  await using supervisor = await startSupervisor(service.path, ["--restart-delay", "20ms"]);
  const first = (await supervisor.waitStatus("up", (s) => s.state === "up")).pid!;

  const pause = JSON.parse((await runOpsd(["pause", "--json", service.path])).stdout);
  assert.equal(pause.paused, true);
  // The same fields as 'opsd status --json', and what was done.
  assert.deepEqual(pause.done, ["sent STOP"]);
  assert.equal(pause.name, service.path);
  assert.deepEqual(pause.supervisor, {
    running: true,
    pid: supervisor.pid,
    detached: false,
    exiting: null,
  });
  assert.equal(typeof pause.uptime, "number");
  await waitFor("stopped", () => readProcStat(first)?.state === "T");
  await runOpsd(["cont", service.path]);
  await waitFor("running", () => readProcStat(first)?.state !== "T");
  assert.doesNotMatch((await runOpsd(["status", service.path])).stdout, /paused/);
  // Stopped by somebody else: status says so all the same, from the kernel.
  Deno.kill(first, "SIGSTOP");
  await waitFor("stopped by a signal", () => readProcStat(first)?.state === "T");
  assert.match((await runOpsd(["status", service.path])).stdout, /, normally up, paused\n/);
  Deno.kill(first, "SIGCONT");
  await waitFor("running again", () => readProcStat(first)?.state !== "T");
  const hup = await runOpsd(["hup", service.path]);
  assert.match(hup.stdout, /: sent HUP; up \(pid \d+, pgid \d+\) \d+ seconds?, normally up\n$/);
  const both = await runOpsd(["svc", "-pc", service.path]);
  assert.match(both.stdout, /: sent STOP; sent CONT; up \(pid \d+/, "every letter's deed is said");
  await runOpsd(["svc", "-a", service.path]);
  await waitFor(
    "both signals recorded",
    async () =>
      (await Deno.readTextFile(`${service.path}/signals`).catch(() => "")) === "HUP\nALRM\n",
  );

  // HUP to the supervisor is passed on to the service.
  Deno.kill(supervisor.pid, "SIGHUP");
  await waitFor(
    "HUP passed on",
    async () => (await Deno.readTextFile(`${service.path}/signals`)).endsWith("ALRM\nHUP\n"),
  );

  const restart = await runOpsd(["restart", service.path]);
  assert.equal(restart.code, 0, restart.stderr);
  const second = await supervisor.waitStatus(
    "restarted",
    (s) => s.state === "up" && s.pid !== first,
  );
  assert.equal(isAlive(first), false);
  assert.equal(second.exitCode, null);

  await runOpsd(["down", service.path]);
  await supervisor.waitStatus("down", (s) => s.state === "down");
  const once = await runOpsd(["once", "--json", service.path]);
  const running = JSON.parse(once.stdout);
  assert.equal(running.state, "up");
  assert.equal(running.want, "once");
  // restart runs a once service once more: stopped, started again, still once.
  assert.equal((await runOpsd(["restart", service.path])).code, 0);
  const again = await supervisor.waitStatus(
    "once, restarted",
    (s) => s.state === "up" && s.pid !== running.pid,
  );
  assert.equal(again.want, "once");
  Deno.kill(again.pid!, "SIGKILL");
  const after = await supervisor.waitStatus("down after once", (s) => s.state === "down");
  assert.equal(after.want, "down", "once does not restart");
  // restart after the once run ended runs it once more, not for good.
  assert.equal((await runOpsd(["restart", service.path])).code, 0);
  const rerun = await supervisor.waitStatus("once, run again", (s) => s.state === "up");
  assert.equal(rerun.want, "once");
  Deno.kill(rerun.pid!, "SIGKILL");
  const ended = await supervisor.waitStatus("down after the rerun", (s) => s.state === "down");
  assert.equal(ended.want, "down", "the rerun is once too");
  const refused = await runOpsd(["hup", service.path]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /is not running: nothing to send SIGHUP to/);
});

Deno.test("a script is a service too: settings and state beside it", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(
    `${dir.path}/job.sh`,
    "#!/bin/sh\necho 'job failed: no input' >&2\nexit 2\n",
    {
      mode: 0o755,
    },
  );
  await Deno.writeTextFile(
    `${dir.path}/job.sh.opsd.conf`,
    "restart-delay = 30ms\nstable-after = 5s\n",
  );
  await using supervisor = await startSupervisor(`${dir.path}/job.sh`);
  await supervisor.waitStatus("crash-loop", (s) => s.state === "crash-loop");
  const state = [...Deno.readDirSync(`${dir.path}/.job.sh.opsd`)].map((e) => e.name).sort();
  assert.deepEqual(state, ["control", "lock", "status.json"]);
  assert.equal(Deno.statSync(`${dir.path}/.job.sh.opsd`).mode! & 0o777, 0o700);
  assert.equal(Deno.statSync(`${dir.path}/.job.sh.opsd/control`).mode! & 0o777, 0o600);
  const status = await runOpsd(["status", "./job.sh"], { cwd: dir.path });
  assert.match(status.stdout, /^\.\/job\.sh: crash-loop: \d+ starts in .*, last exited 2/);
  const tail = await runOpsd(["tail", "./job.sh"], { cwd: dir.path });
  assert.match(tail.stdout, /job failed: no input\n$/);
  const last = await runOpsd(["tail", "-n", "1", "./job.sh"], { cwd: dir.path });
  assert.equal(last.stdout, "job failed: no input\n", "the last line of the stderr tail");
  const follow = await runOpsd(["tail", "-f", "./job.sh"], { cwd: dir.path });
  assert.equal(follow.code, 1);
  assert.match(
    follow.stderr,
    /has no log file to follow: set 'log-file = log\/current' in .*job\.sh\.opsd\.conf/,
  );
  // With a log/ service, its stdout is written where that service writes it.
  await using logged = await copyService("logged");
  const withLog = await runOpsd(["tail", "-f", logged.path]);
  assert.deepEqual([withLog.code, withLog.stderr], [
    1,
    `opsd tail: ${logged.path} has no log file to follow: its stdout goes to its log service, ` +
    `which writes its own files: follow those ('opsd tail -f ${logged.path}/log' when ` +
    `${logged.path}/log/opsd.conf sets log-file); 'opsd tail ${logged.path}' shows the output tail\n`,
  ]);
});

Deno.test("--ready-fd reports once the service has started, or why the supervisor could not start", async () => {
  await using service = await copyService("steady");
  await using supervisor = await startSupervisor(service.path, ["--ready-fd", "1"]);
  const up = await supervisor.waitStatus("up", (s) => s.state === "up");
  await waitFor("the ready line", () => /^0 /m.test(supervisor.output()));
  assert.match(
    supervisor.output(),
    new RegExp(
      `^0 supervising ${service.path} \\(supervisor pid ${supervisor.pid}, ${service.path} pid ${up.pid}\\)$`,
      "m",
    ),
  );
  await using broken = await copyService("noexec");
  const run = await runOpsd(["supervise", broken.path, "--ready-fd", "1"]);
  assert.equal(run.code, 126);
  assert.match(run.stdout, /^126 .*run: not executable: make it executable/);
  const closed = await runOpsd(["supervise", service.path, "--ready-fd", "99"]);
  assert.equal(closed.code, 2, "an fd that is not open is a usage error");
  assert.equal(
    closed.stderr,
    "opsd supervise: --ready-fd 99: fd 99 is not open: open it for the readiness line " +
      "(99>FILE or a pipe)\n",
  );
  // fd 3 closed before exec: the runtime takes it for itself, and it must never be written to.
  const own = await runOpsd(["supervise", service.path, "--ready-fd", "3"], {
    under: ["sh", "-c", 'exec 3>&- "$@"', "sh"],
  });
  assert.deepEqual([own.code, own.stderr], [
    2,
    "opsd supervise: --ready-fd 3: fd 3 is one opsd opened for itself: open it for the " +
    "readiness line (3>FILE or a pipe)\n",
  ]);
});

Deno.test("tail -f prints the end of the log file, then what is appended", async () => {
  await using service = await copyService("chatty");
  await using supervisor = await startSupervisor(service.path, ["--log-file", "current.log"]);
  const logged = await waitFor("all lines logged", async () => {
    const text = await Deno.readTextFile(`${service.path}/current.log`).catch(() => "");
    return text.includes("out 300:") && text.includes("err 300:") ? text : null;
  });
  const lastTwo = logged.split("\n").slice(-3).join("\n");
  {
    await using tail = startTail(["-f", "-n", "2", service.path]);
    await waitFor("the last two lines", () => tail.text().split("\n").length >= 3);
    assert.equal(tail.text(), lastTwo);
    await runOpsd(["restart", service.path]);
    await waitFor(
      "lines of the next run",
      () => /opsd started pid/.test(tail.text()) && /out out 3:/.test(tail.text()),
    );
  }
  assert.ok(supervisor.status());
});

Deno.test("a run that did exec 2>&1: its tail is stdout's, shown by status when it fails and by tail", async () => {
  await using dir = await tempDir();
  const service = `${dir.path}/db-client`;
  await Deno.mkdir(service);
  await Deno.writeTextFile(
    `${service}/run`,
    "#!/bin/sh\nexec 2>&1\necho connecting to 127.0.0.1:5432\necho 'fatal: connection refused' >&2\nexit 1\n",
    { mode: 0o755 },
  );
  await using supervisor = await startSupervisor(service);
  await supervisor.waitStatus("it to fail", (s) => s.exitCode === 1 && s.tail !== "");
  const status = await runOpsd(["status", service]);
  assert.equal(status.code, 1);
  assert.match(
    status.stdout,
    /\n {2}\| connecting to 127\.0\.0\.1:5432\n {2}\| fatal: connection refused\n$/,
  );
  const json = JSON.parse((await runOpsd(["status", "--json", service])).stdout);
  assert.equal(json.tailStream, "stdout");
  assert.match(json.tail, /fatal: connection refused\n$/);
  const tail = await runOpsd(["tail", "-n", "1", service]);
  assert.deepEqual([tail.code, tail.stdout, tail.stderr], [0, "fatal: connection refused\n", ""]);
});

Deno.test("tail of a service that wrote nothing says so on stderr (exit 0), and where a log/ service reads stdout", async () => {
  await using dir = await tempDir();
  const quiet = `${dir.path}/quiet`, logged = `${dir.path}/logged`;
  for (const service of [quiet, logged]) {
    await Deno.mkdir(service);
    await Deno.writeTextFile(`${service}/run`, "#!/bin/sh\nexec 2>&1\nexec sleep 1000\n", {
      mode: 0o755,
    });
  }
  await Deno.mkdir(`${logged}/log`);
  await Deno.writeTextFile(`${logged}/log/run`, "#!/bin/sh\nexec cat > /dev/null\n", {
    mode: 0o755,
  });
  for (
    const [service, note] of [
      [quiet, `no output from ${quiet} since its supervisor started`],
      [
        logged,
        `no stderr output from ${logged} since its supervisor started (a run with 'exec 2>&1' ` +
        `writes everything to stdout, here read by its log/ service: 'opsd tail -f ${logged}/log' ` +
        "follows its log file)",
      ],
    ]
  ) {
    await using supervisor = await startSupervisor(service);
    await supervisor.waitStatus("up", (s) => s.state === "up");
    const tail = await runOpsd(["tail", service]);
    assert.deepEqual([tail.code, tail.stdout, tail.stderr], [0, "", `opsd tail: ${note}\n`]);
    assert.equal((await runOpsd(["tail", "-n", "0", service])).stderr, "", "none asked for");
  }
});

Deno.test("tail -f prints the log as it is (not UTF-8, NUL, CR), its last lines however long", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/run`, "#!/bin/sh\nexec sleep 1000\n", { mode: 0o755 });
  await Deno.writeTextFile(`${dir.path}/opsd.conf`, "log-file = current\n");
  const long = (c: string) => encoder.encode(`${c.repeat(100_000)}\n`);
  const odd = new Uint8Array([...encoder.encode("caf"), 0xe9, 0, 13, 10]); // latin-1 é, NUL, CR
  await Deno.writeFile(`${dir.path}/current`, concat(long("a"), long("b"), odd));
  await using tail = startTail(["-f", "-n", "2", dir.path]);
  const expected = concat(long("b"), odd);
  await waitFor("the last two lines", () => tail.bytes().length >= expected.length || null);
  assert.deepEqual(tail.bytes(), expected);
  await Deno.writeFile(`${dir.path}/current`, odd, { append: true });
  await waitFor("the appended line", () => tail.bytes().length > expected.length || null);
  assert.deepEqual(tail.bytes(), concat(expected, odd));
});

Deno.test("tail -f, running long, ignores SIGUSR1 once Deno's handler appears: no debugger opens", async () => {
  await using service = await copyService("steady");
  await using supervisor = await startSupervisor(service.path, ["--log-file", "current.log"]);
  await supervisor.waitStatus("up", (status) => status.state === "up");
  await using tail = startTail(["-f", service.path]);
  const started = Date.now();
  const has = (mask: string, bit: number) => {
    const status = Deno.readTextFileSync(`/proc/${tail.pid}/status`);
    return (BigInt(`0x${new RegExp(`^${mask}:\\s+(\\w+)`, "m").exec(status)![1]}`) >>
        BigInt(bit - 1) & 1n) === 1n;
  };
  // Deno installs its handler about 500 ms in (SigCgt); opsd sets it back to "ignore" at once.
  await waitFor(
    "SIGUSR1 ignored, 1.5 s in",
    () => Date.now() - started > 1500 && has("SigIgn", 10) && !has("SigCgt", 10),
  );
  Deno.kill(tail.pid, "SIGUSR1");
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(tail.status(), null, "tail -f lives on");
  assert.doesNotMatch(tail.errors(), /Debugger listening/);
});

Deno.test("tail -f prints every line of a log rotated fast into small files, in order", async () => {
  await using service = await copyService("paced");
  await using supervisor = await startSupervisor(service.path, [
    // A rotation every ~30 ms; 50 kept: a tail a second behind (a loaded machine) loses nothing.
    ...["--log-file", "current.log", "--log-max-size", "4k", "--log-keep", "50"],
  ]);
  await waitFor("the service waiting", async () => {
    const text = await Deno.readTextFile(`${service.path}/current.log`).catch(() => "");
    return text.includes("waiting for go");
  });
  let text;
  {
    await using tail = startTail(["-f", "-n", "1", service.path]);
    await waitFor("the last line so far", () => tail.text().includes("waiting for go\n"));
    await Deno.writeTextFile(`${service.path}/go`, "");
    await waitFor("the last line", () => tail.text().includes(" out 6000: "), { timeout: 30_000 });
    text = tail.text();
  }
  const numbers = text.split("\n").flatMap((line) => line.match(/ out (\d+): /)?.[1] ?? []);
  const rotated = [...Deno.readDirSync(service.path)].filter((e) =>
    /^current\.log\.\d+$/.test(e.name)
  );
  assert.equal(rotated.length, 50, "the log was rotated past log-keep");
  assert.equal(numbers.length, 6000, `${6000 - numbers.length} lines lost or repeated`);
  assert.deepEqual(numbers, Array.from({ length: 6000 }, (_, n) => String(n + 1)));
  assert.ok(supervisor.status());
});

Deno.test("tail -f started before the first start prints every line still on disk, from the first", async () => {
  await using service = await copyService("burst");
  await Deno.writeTextFile(
    `${service.path}/opsd.conf`,
    "log-file = log/current\nlog-max-size = 256k\nlog-keep = 100\n",
  );
  await using tail = startTail(["-f", service.path]);
  await waitIdle(tail.pid); // It has looked: no log file yet.
  // Stopped while the service writes 100000 lines and the log is rotated about 30
  // times: when it looks again, all but the last are in rotated files.
  Deno.kill(tail.pid, "SIGSTOP");
  try {
    await using _supervisor = await startSupervisor(service.path);
    await waitFor("every line logged", async () => {
      const text = await Deno.readTextFile(`${service.path}/log/current`).catch(() => "");
      return text.includes(" out 100000: ");
    });
  } finally {
    Deno.kill(tail.pid, "SIGCONT");
  }
  await waitFor("the last line", () => tail.text().includes(" out 100000: "), { timeout: 30_000 });
  const rotated = [...Deno.readDirSync(`${service.path}/log`)].length - 1;
  assert.ok(rotated >= 20 && rotated < 100, `${rotated} rotated files: line 1 is still on disk`);
  const numbers = tail.text().split("\n").flatMap((line) => line.match(/ out (\d+): /)?.[1] ?? []);
  const wrong = numbers.findIndex((number, n) => Number(number) !== n + 1);
  assert.equal(wrong, -1, `line ${wrong + 1} followed is ${numbers[wrong]}`);
  assert.equal(numbers.length, 100000);
});

Deno.test("tail -f ends quietly (exit 0) once nobody reads its output, while the log is quiet too", async () => {
  await using service = await copyService("steady");
  await using _supervisor = await startSupervisor(service.path, ["--log-file", "current.log"]);
  await using tail = startTail(["-f", service.path]);
  await waitFor("its first lines", () => tail.text().includes(" out steady "));
  // As `head -n 3` does once it has its lines. A write would find the pipe closed
  // (EPIPE), but nothing more is written to the log.
  await tail.closeStdout();
  const status = await waitFor("tail -f to exit", () => tail.status(), { timeout: 5000 });
  assert.deepEqual([status.code, tail.errors()], [0, ""]);
});

Deno.test("every command's --help shows examples and exit codes", async () => {
  for (const command of ["supervise", "status", "svc", "tail", "wait", "up", "exit"]) {
    const run = await runOpsd([command, "--help"]);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /Examples:\n/, command);
    assert.match(run.stdout, /Exit codes: /, command);
  }
});

Deno.test("a service deep in the tree, past the unix socket path limit, is still controllable", async () => {
  await using service = await copyService("steady");
  const deep = `${service.dir}/${"d".repeat(60)}/${"e".repeat(40)}`;
  await Deno.mkdir(deep, { recursive: true });
  await Deno.rename(service.path, `${deep}/steady`);
  await using supervisor = await startSupervisor(`${deep}/steady`);
  await supervisor.waitStatus("up", (s) => s.state === "up");
  const down = await runOpsd(["down", "-q", `${deep}/steady`]);
  assert.equal(down.code, 0, down.stderr);
  await supervisor.waitStatus("down", (s) => s.state === "down");
});

Deno.test("a directory or file that is not a service is a usage error for status and control", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/notes.txt`;
  await Deno.writeTextFile(file, "not a program\n");
  for (const command of ["status", "up", "tail", "wait"]) {
    const extra = command === "wait" ? ["--up"] : [];
    const run = await runOpsd([command, dir.path, ...extra]);
    assert.equal(run.code, 2, command);
    assert.equal(
      run.stderr,
      `opsd ${command}: not a service: ${dir.path} has no run file and was never supervised\n`,
    );
    const plain = await runOpsd([command, file, ...extra]);
    assert.equal(plain.code, 2, command);
    assert.equal(
      plain.stderr,
      `opsd ${command}: not a service: ${file} is not an executable script and was never ` +
        "supervised\n",
    );
  }
});

Deno.test("status says when opsd supervise would refuse a service's run file, and what to do; not once it can run", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/run`, "#!/bin/sh\nexec sleep 100\n");
  const plain = await runOpsd(["status", dir.path]);
  assert.equal(plain.code, 3);
  assert.equal(
    plain.stdout,
    `${dir.path}: supervisor not running; never supervised; opsd supervise would refuse it: ` +
      `${dir.path}/run: not executable: make it executable (chmod +x ${dir.path}/run)\n`,
  );
  const json = JSON.parse((await runOpsd(["status", "--json", dir.path])).stdout);
  assert.deepEqual(json.notes, [
    `opsd supervise would refuse it: ${dir.path}/run: not executable: make it executable ` +
    `(chmod +x ${dir.path}/run)`,
  ]);
  await Deno.chmod(`${dir.path}/run`, 0o755);
  const runnable = await runOpsd(["status", dir.path]);
  assert.equal(runnable.stdout, `${dir.path}: supervisor not running; never supervised\n`);
  await Deno.remove(`${dir.path}/run`);
  await Deno.mkdir(`${dir.path}/run`);
  const directory = await runOpsd(["status", dir.path]);
  assert.match(directory.stdout, /; opsd supervise would refuse it: \S+\/run: not a file: /);
});

Deno.test("a down file keeps the service down until 'up'; user (with its HOME, USER, LOGNAME) and umask settings apply", async () => {
  await using service = await copyService("steady");
  await Deno.writeTextFile(`${service.path}/down`, "");
  await Deno.writeTextFile(`${service.path}/opsd.conf`, "user = nobody\numask = 027\n");
  await Deno.chmod(service.dir, 0o755);
  await using supervisor = await startSupervisor(service.path);
  const down = supervisor.status()!;
  assert.deepEqual([down.state, down.normally, down.want, down.starts], [
    "down",
    "down",
    "down",
    0,
  ]);
  const status = await runOpsd(["status", service.path]);
  assert.match(status.stdout, /: down \d+ seconds?, not started yet, normally down\n$/);
  assert.equal((await runOpsd(["up", "-q", service.path])).code, 0);
  const up = await supervisor.waitStatus("up", (s) => s.state === "up");
  const info = await Deno.readTextFile(`/proc/${up.pid}/status`);
  assert.match(info, /^Uid:\s+65534\s/m);
  assert.match(info, /^Umask:\s+0027$/m);
  const environ = (await Deno.readTextFile(`/proc/${up.pid}/environ`)).split("\0");
  for (const setting of ["HOME=/nonexistent", "USER=nobody", "LOGNAME=nobody"]) {
    assert.ok(environ.includes(setting), setting);
  }
});

Deno.test("a group setting alone keeps the supervisor's user and sets the service's only group", async () => {
  await using service = await copyService("steady");
  await Deno.writeTextFile(`${service.path}/opsd.conf`, "group = nogroup\n");
  await using supervisor = await startSupervisor(service.path);
  const up = await supervisor.waitStatus("up", (s) => s.state === "up");
  const info = await Deno.readTextFile(`/proc/${up.pid}/status`);
  assert.match(info, /^Uid:\s+0\s/m);
  assert.match(info, /^Gid:\s+65534\s+65534\s/m);
  assert.match(info, /^Groups:\s+65534\s*$/m);
  const environ = (await Deno.readTextFile(`/proc/${up.pid}/environ`)).split("\0");
  assert.equal(environ.find((entry) => entry.startsWith("HOME=")), `HOME=${Deno.env.get("HOME")}`);
});

Deno.test({
  name: "a state directory this user may not read: one line naming its owner, exit 4",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using dir = await tempDir();
    const service = `${dir.path}/web`;
    await Deno.mkdir(`${service}/supervise`, { recursive: true });
    await Deno.writeTextFile(`${service}/run`, "#!/bin/sh\nexec sleep 1000\n", { mode: 0o755 });
    await Deno.writeTextFile(`${service}/supervise/lock`, "");
    await Deno.chown(`${service}/supervise`, 65534, 65534);
    await Deno.chmod(`${service}/supervise`, 0o700);
    // Root without capabilities is refused as any other user: the tree stays readable.
    for (const args of [["status", service], ["down", service], ["supervise", service]]) {
      const { code, stderr } = await runOpsd(args, { withoutCapabilities: true });
      assert.equal(code, 4, `${args[0]}: ${stderr}`);
      assert.match(
        stderr,
        new RegExp(
          `^opsd ${args[0]}: permission denied: the state of ${service} \\(${service}/supervise, ` +
            "mode 0700, owned by nobody\\) is its supervisor's user's: run this as that user or as root\\n$",
        ),
      );
    }
  },
});

Deno.test({
  name: "a service directory this user may not enter or write, or settings it may not read: exit 4",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using dir = await tempDir();
    const service = `${dir.path}/web`;
    await Deno.mkdir(service);
    await Deno.writeTextFile(`${service}/run`, "#!/bin/sh\nexec sleep 1000\n", { mode: 0o755 });
    await Deno.chown(service, 65534, 65534);
    await Deno.chmod(service, 0o700);
    const closed = await runOpsd(["status", service], { withoutCapabilities: true });
    assert.equal(closed.code, 4, closed.stderr);
    assert.equal(
      closed.stderr,
      `opsd status: permission denied: ${service} cannot be looked into by this user: ` +
        "run this as its owner or as root\n",
    );
    // A service inside it: the directory it may not search is named.
    const inside = await runOpsd(["supervise", `${service}/inner`], { withoutCapabilities: true });
    assert.equal(inside.code, 4, inside.stderr);
    assert.equal(
      inside.stderr,
      `opsd supervise: permission denied: ${service} cannot be looked into by this user: ` +
        "run this as its owner or as root\n",
    );
    await Deno.chmod(service, 0o755);
    const unwritable = await runOpsd(["supervise", service], { withoutCapabilities: true });
    assert.equal(unwritable.code, 4, unwritable.stderr);
    assert.equal(
      unwritable.stderr,
      `opsd supervise: permission denied: cannot make ${service}/supervise: ${service} is ` +
        "nobody's: run this as that user or as root\n",
    );
    await Deno.writeTextFile(`${service}/opsd.conf`, "stop-timeout = 5s\n", { mode: 0o600 });
    await Deno.chown(`${service}/opsd.conf`, 65534, 65534);
    const unreadable = await runOpsd(["supervise", service], { withoutCapabilities: true });
    assert.equal(unreadable.code, 4, unreadable.stderr);
    assert.equal(
      unreadable.stderr,
      `opsd supervise: ${service}/opsd.conf: permission denied: run this as a user who may ` +
        "read it, or as root\n",
    );
  },
});

Deno.test("a settings file that is a directory is a settings error (exit 2)", async () => {
  await using service = await copyService("steady");
  await Deno.mkdir(`${service.path}/opsd.conf`);
  const run = await runOpsd(["supervise", service.path]);
  assert.equal(run.code, 2);
  assert.equal(
    run.stderr,
    `opsd supervise: ${service.path}/opsd.conf is a directory: a settings file holds ` +
      `"key = value" lines\n`,
  );
});

Deno.test("a damaged or foreign status file is named in one line (exit 1); a new supervisor replaces it", async () => {
  await using service = await copyService("steady");
  const file = `${service.path}/supervise/status.json`;
  await Deno.mkdir(`${service.path}/supervise`);
  for (
    const [text, why] of [
      ['{"pid": 12, "broken', "not JSON"],
      ["[]", "not a JSON object"],
      ['{"format": 1, "since": "garbage"}', "bad field 'service'"],
    ]
  ) {
    await Deno.writeTextFile(file, text);
    for (const command of ["status", "tail"]) {
      const run = await runOpsd([command, service.path]);
      assert.equal(run.code, 1, `${command} on ${text}`);
      assert.equal(
        run.stderr,
        `opsd ${command}: ${file} is damaged or not opsd's (${why}): remove it; a running ` +
          "supervisor writes it again at its next change, a new one at its start\n",
      );
    }
  }
  await using supervisor = await startSupervisor(service.path);
  await supervisor.waitStatus("up", (s) => s.state === "up");
  assert.match(supervisor.output(), /previous status not used: .* is damaged or not opsd's/);
  assert.equal((await runOpsd(["status", service.path])).code, 0);
});

Deno.test("a status file left out of date (a full disk) never shows a gone process up: status asks the supervisor", async () => {
  await using service = await copyService("steady");
  await using supervisor = await startSupervisor(service.path);
  // Up, and its first line in the tail: no later write of the supervisor's undoes the one below.
  const up = await supervisor.waitStatus("up", (s) => s.state === "up" && s.tail !== "");
  // What a supervisor that cannot write its file leaves behind: a record naming a process now gone.
  const gone = new Deno.Command("true").spawn();
  await gone.status;
  const file = `${service.path}/supervise/status.json`;
  const instances = [{ ...up.instances[0], pid: gone.pid, pgid: gone.pid }];
  await Deno.writeTextFile(file, `${JSON.stringify({ ...up, pid: gone.pid, instances })}\n`);
  const run = await runOpsd(["status", service.path]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`: up \\(pid ${up.pid}, `), "the supervisor's own record");
  // A supervisor that cannot answer either (stopped): one line, exit 1, never "up".
  Deno.kill(supervisor.pid, "SIGSTOP");
  try {
    const stuck = await runOpsd(["status", service.path]);
    assert.equal(stuck.code, 1);
    assert.equal(stuck.stdout, "");
    assert.equal(
      stuck.stderr,
      `opsd status: ${file} is out of date: pid ${gone.pid}, recorded as running, has exited, ` +
        `and asking its supervisor (pid ${supervisor.pid}) failed: it did not answer within 2.0 s ` +
        "(is it stopped?); if it cannot write the file (a full disk?), its messages say so\n",
    );
    // wait gives it no longer than what is left of --timeout.
    const started = Date.now();
    const wait = await runOpsd(["wait", "--down", "--timeout", "300ms", service.path]);
    assert.equal(wait.code, 6, wait.stderr);
    assert.match(wait.stderr, /^opsd wait: timed out after 300 ms waiting for .* to be down; /);
    assert.match(wait.stderr, /: it did not answer within \d+ ms \(is it stopped\?\)/);
    assert.ok(Date.now() - started < 2000, "not the 2 s status gives it");
  } finally {
    Deno.kill(supervisor.pid, "SIGCONT");
  }
});

Deno.test("a log/ made after the supervisor started: status of both and control words on log/ say to restart the service's supervisor", async () => {
  await using service = await copyService("steady");
  await using supervisor = await startSupervisor(service.path);
  await supervisor.waitStatus("up", (s) => s.state === "up");
  await Deno.mkdir(`${service.path}/log`);
  await Deno.writeTextFile(`${service.path}/log/run`, "#!/bin/sh\nexec cat\n", { mode: 0o755 });
  const status = await runOpsd(["status", service.path]);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  assert.match(
    status.stdout,
    /^\S+: up \(pid \d+, pgid \d+\) \d+ seconds?, normally up; log\/ is not supervised: it was made after the supervisor started; restart its supervisor \('opsd exit \S+', then 'opsd supervise \S+'\) to run it\n$/,
  );
  const json = JSON.parse((await runOpsd(["status", "--json", service.path])).stdout);
  assert.deepEqual(json.notes, [status.stdout.slice(status.stdout.indexOf("log/ is")).trimEnd()]);

  // Named alone, log/ points back to the service: a supervisor on log/ would read nothing.
  const advice = `restart its supervisor ('opsd exit ${service.path}', then ` +
    `'opsd supervise ${service.path}') to run it`;
  const logStatus = await runOpsd(["status", `${service.path}/log`]);
  assert.deepEqual([logStatus.code, logStatus.stdout], [
    3,
    `${service.path}/log: supervisor not running; never supervised; it is the log/ of ` +
    `${service.path}, made after that service's supervisor started; ${advice}\n`,
  ]);
  const up = await runOpsd(["up", `${service.path}/log`]);
  assert.deepEqual([up.code, up.stderr], [
    3,
    `opsd up: no supervisor running for ${service.path}/log: it is the log/ of ` +
    `${service.path}, made after that service's supervisor started: ${advice}\n`,
  ]);

  // Only what is shown is read: the late log/'s own status file (damaged here) is not.
  await Deno.mkdir(`${service.path}/log/supervise`);
  await Deno.writeTextFile(`${service.path}/log/supervise/status.json`, "damaged");
  const reports = await statusReports(resolveService(service.path), service.path);
  assert.deepEqual(reports.map((report) => [report.role, report.notes.length]), [["main", 1]]);
});

Deno.test("a symlink loop, a state path that is a file, a status.json that is a directory: one line each", async () => {
  await using service = await copyService("steady");
  const loop = `${service.dir}/loop1`;
  await Deno.symlink(`${service.dir}/loop2`, loop);
  await Deno.symlink(loop, `${service.dir}/loop2`);
  const looped = await runOpsd(["status", loop]);
  assert.deepEqual(
    [looped.code, looped.stderr],
    [2, `opsd status: no such service: ${loop} is a loop of symbolic links: fix the link\n`],
  );
  await Deno.writeTextFile(`${service.path}/supervise`, "");
  const file = await runOpsd(["supervise", service.path]);
  assert.deepEqual([file.code, file.stderr], [
    2,
    `opsd supervise: ${service.path}/supervise is a file, not the state directory: remove or ` +
    "rename it\n",
  ]);
  await Deno.remove(`${service.path}/supervise`);
  await Deno.mkdir(`${service.path}/supervise/status.json`, { recursive: true });
  const dir = await runOpsd(["status", service.path]);
  assert.equal(dir.code, 1);
  assert.match(dir.stderr, /status\.json is damaged or not opsd's \(not JSON\): remove it;/);
});

Deno.test("status of DIR/run names the log service DIR/log, as of DIR", async () => {
  await using service = await copyService("logged");
  for (const name of [service.path, `${service.path}/`, `${service.path}/run`]) {
    const status = await runOpsd(["status", name]);
    assert.deepEqual([status.code, status.stdout], [
      3,
      `${name}: supervisor not running; never supervised\n` +
      `${service.path}/log: supervisor not running; never supervised\n`,
    ]);
  }
});

/** A real `opsd tail ARGS...` as a test runs it. */
interface RunningTail extends AsyncDisposable {
  pid: number;
  /** What it printed so far, on stdout and on stderr. */
  text(): string;
  /** What it printed so far on stdout, as bytes. */
  bytes(): Uint8Array;
  errors(): string;
  /** Its exit status once it has exited, else null. */
  status(): Deno.CommandStatus | null;
  /** Stops reading its stdout and closes that end of the pipe (a reader that is gone). */
  closeStdout(): Promise<void>;
}

/** Starts a real `opsd tail ARGS...`, collecting its output; disposing of it stops it (TERM). */
function startTail(args: string[]): RunningTail {
  const [program, ...rest] = opsdArgv(["tail", ...args]);
  const child = new Deno.Command(program, { args: rest, stdout: "piped", stderr: "piped" }).spawn();
  let status: Deno.CommandStatus | null = null;
  const exited = child.status.then((result) => status = result);
  const stdout = child.stdout.getReader();
  let text = "", errors = "";
  const chunks: Uint8Array[] = [];
  const decoder = new TextDecoder();
  const reading = Promise.all([
    (async () => {
      for (let read = await stdout.read(); !read.done; read = await stdout.read()) {
        text += decoder.decode(read.value, { stream: true });
        chunks.push(read.value);
      }
    })(),
    (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) errors += chunk;
    })(),
  ]);
  return {
    pid: child.pid,
    text: () => text,
    bytes: () => concat(...chunks),
    errors: () => errors,
    status: () => status,
    closeStdout: () => stdout.cancel(),
    async [Symbol.asyncDispose]() {
      if (!status) child.kill("SIGTERM");
      await exited;
      await reading;
    },
  };
}

/** The bytes of `parts`, one after another. */
function concat(...parts: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

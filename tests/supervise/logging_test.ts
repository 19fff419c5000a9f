import assert from "node:assert/strict";
import { mountTmpfs, runOpsd, tempDir, waitFor } from "../fixtures/mod.ts";
import { copyService, killGroup, startSupervisor } from "../fixtures/supervise.ts";
import { sendControl } from "../../lib/supervise/control.ts";
import { opsdArgv } from "../../lib/self.ts";
import { resolveService } from "../../lib/service/paths.ts";
import { readStatusOrNull } from "../../lib/supervise/state.ts";

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (out|err|opsd) /;

Deno.test("stdout and stderr go to a rotating log file, a timestamp on every line", async () => {
  await using service = await copyService("chatty");
  await using supervisor = await startSupervisor(service.path, [
    "--log-file",
    "log/current",
    "--log-max-size",
    "4k",
  ]);
  const log = `${service.path}/log`;
  const up = await supervisor.waitStatus("up", (s) => s.state === "up");
  assert.equal(up.logFile, `${log}/current`);
  // About 26 kB of output: several 4 kB files, all kept (log-keep 10).
  const read = async () => {
    const names = await Array.fromAsync(Deno.readDir(log), (e) => e.name).catch(() => []);
    names.sort((a, b) => (Number(b.split(".")[1]) || 0) - (Number(a.split(".")[1]) || 0));
    return await Promise.all(names.map((name) => Deno.readTextFile(`${log}/${name}`)))
      .catch(() => null);
  };
  const files = await waitFor("every line logged", async () => {
    // Read while rotation may rename files: a miss, or a rotation between two reads
    // (the same files read twice differ), is simply tried again.
    const texts = await read();
    const all = texts?.join("") ?? "";
    if (!all.includes("out 300:") || !all.includes("err 300:")) return null;
    return (await read())?.join("") === all ? texts : null;
  });
  assert.ok(files.length >= 5, `rotated into ${files.length} files`);
  for (const text of files) {
    assert.ok(text.length <= 4096, "each file within log-max-size");
    for (const line of text.trimEnd().split("\n")) assert.match(line, STAMP);
  }
  const lines = files.join("").trimEnd().split("\n");
  const numbers = (stream: string) =>
    lines.map((line) => new RegExp(` ${stream} ${stream} (\\d+):`).exec(line)?.[1]).filter(Boolean)
      .map(Number);
  assert.deepEqual(
    numbers("out"),
    Array.from({ length: 300 }, (_, n) => n + 1),
    "every line, in order",
  );
  assert.deepEqual(numbers("err"), Array.from({ length: 30 }, (_, n) => 10 * (n + 1)));
  assert.match(lines[0], / opsd started pid \d+$/);
  const later = await supervisor.waitStatus("the tail written", (s) => /err 300/.test(s.tail));
  assert.match(later.tail, /err 290: something to look at\nerr 300: something to look at\n$/);
  assert.equal(later.droppedBytes, 0);
});

Deno.test("a log/ holding only log files is no log service: the service starts again", async () => {
  await using service = await copyService("steady");
  for (let round = 0; round < 2; round++) {
    await using supervisor = await startSupervisor(service.path, ["--log-file", "log/current"]);
    await supervisor.waitStatus("up", (s) => s.state === "up");
    assert.equal(supervisor.paths.log, null, `round ${round}`);
    assert.equal(await supervisor.stop(), 0);
  }
  const { code } = await runOpsd(["status", service.path]);
  assert.equal(code, 3, "no supervisor: exit 3, and no log service reported");
});

Deno.test("a log file that cannot be written never blocks the service: output is dropped and counted", async () => {
  await using service = await copyService("chatty");
  // /dev/full fails every write with ENOSPC, like a full disk.
  await using supervisor = await startSupervisor(service.path, ["--log-file", "/dev/full"]);
  const status = await supervisor.waitStatus(
    "dropped bytes counted",
    (s) => s.state === "up" && s.droppedBytes > 15_000,
  );
  assert.equal(status.starts, 1, "the service was never blocked or restarted");
  assert.match(status.tail, /err 300/, "the stderr tail does not depend on the log file");
  assert.match(
    supervisor.output(),
    /log file \/dev\/full: ENOSPC \(no space left on device\): its lines are dropped /,
  );
});

Deno.test("a log file that cannot be opened is refused before the service starts (exit 2)", async () => {
  await using service = await copyService("steady");
  const run = await runOpsd(["supervise", service.path, "--log-file", "/proc/opsd-test.log"]);
  assert.equal(run.code, 2);
  assert.equal(
    run.stderr,
    "opsd supervise: --log-file: cannot create the log file /proc/opsd-test.log: choose another " +
      "path\n",
  );
  assert.equal(
    await Deno.stat(`${service.path}/supervise`).catch(() => null),
    null,
    "nothing made",
  );
});

Deno.test("a reader of the supervisor's stdout that falls behind never blocks the service", async () => {
  await using service = await copyService("burst");
  // Nobody reads the supervisor's stdout until the service has written its 5 MB.
  await using supervisor = await startSupervisor(service.path, ["--log-buffer", "64k"], {
    holdStdout: true,
  });
  await waitFor("the service past its output", async () => {
    return await Deno.stat(`${service.path}/written`).then(() => true, () => null);
  });
  // 64 kB of the supervisor's stdout pipe and 64 kB of log-buffer took the first lines.
  const status = await supervisor.waitStatus(
    "the rest counted as dropped",
    (s) => s.droppedBytes > 4_000_000,
    { timeout: 30_000 },
  );
  assert.equal(status.state, "up");
  assert.equal(status.starts, 1, "never blocked or restarted");
  const { stdout } = await runOpsd(["status", service.path]);
  assert.match(stdout, new RegExp(`, ${status.droppedBytes} bytes of output dropped$`, "m"));
  supervisor.readStdout();
  assert.equal(await supervisor.stop(), 0);
  const lines = supervisor.output().split("\n");
  const marker = lines.findIndex((line) => /^opsd: dropped \d+ bytes of output: /.test(line));
  assert.ok(marker > 0, "the loss is marked where it happened");
  assert.ok(
    lines.includes("1: the quick brown fox jumps over the lazy dog"),
    "what fitted went out",
  );
});

Deno.test("a reader of the supervisor's stdout that is gone: the service runs on, its lost output is counted", async () => {
  await using service = await copyService("chatty");
  await using supervisor = await startSupervisor(service.path, [], { closeStdout: true });
  let stdoutBytes = 0;
  for (let n = 1; n <= 300; n++) {
    stdoutBytes += `out ${n}: the quick brown fox jumps over the lazy dog\n`.length;
  }
  const status = await supervisor.waitStatus(
    "every stdout line counted as dropped",
    (s) => s.droppedBytes >= stdoutBytes,
  );
  assert.equal(status.droppedBytes, stdoutBytes, "this service's stdout lines, each counted once");
  assert.equal(status.state, "up");
  assert.equal(status.starts, 1, "never blocked or restarted");
  await waitFor("stderr forwarded", () => supervisor.output().includes("err 300:") || null);
  assert.match(supervisor.output(), /writing to stdout: .*(EPIPE|Broken pipe)/);
  assert.equal(await supervisor.stop(), 0);
});

Deno.test("the log/ service reads stdout through a pipe that survives restarts of either side", async () => {
  await using service = await copyService("logged");
  const lines = `${service.path}/lines.txt`;
  const count = async () => (await Deno.readTextFile(lines).catch(() => "")).split("\n").length - 1;
  let last = 0;
  const moreLines = async (what: string) => {
    const before = last;
    last = await waitFor(what, async () => {
      const now = await count();
      return now > before + 50 ? now : null;
    });
  };
  {
    await using supervisor = await startSupervisor(service.path, ["--restart-delay", "20ms"]);
    const log = supervisor.paths.log!;
    await supervisor.waitStatus("log up", (s) => s.state === "up", { role: "log" });
    await moreLines("first lines");
    for (let round = 0; round < 2; round++) {
      await sendControl(log, { command: "restart" });
      await moreLines("lines after a restart of log/");
      await sendControl(supervisor.paths, { command: "kill" });
      await moreLines("lines after a restart of the service");
    }
    const log2 = supervisor.status("log")!;
    assert.ok(log2.starts >= 3, "the log service was restarted");
    assert.equal(await supervisor.stop("SIGTERM"), 0);
  }
  const text = await Deno.readTextFile(lines);
  const numbers = text.trimEnd().split("\n").map((line) => {
    assert.match(line, /^line \d+$/, "no line torn");
    return Number(line.slice(5));
  });
  const seen = new Set(numbers);
  const max = Math.max(...numbers);
  const missing = Array.from({ length: max }, (_, n) => n + 1).filter((n) => !seen.has(n));
  assert.deepEqual(missing, [], "no line lost, up to the last one written");
  const counter = Number(await Deno.readTextFile(`${service.path}/counter`));
  assert.ok(max >= counter, "the lines still in the pipe at exit were logged too");
});

Deno.test("at each exit, a run's output is logged before its exited line, a partial last line ended", async () => {
  await using service = await copyService("partial");
  const log = `${service.path}/log`;
  {
    await using supervisor = await startSupervisor(service.path, [
      "--log-file",
      "log",
      "--restart-delay",
      "20ms",
    ]);
    await supervisor.waitStatus("a fourth start", (s) => s.starts >= 4);
    assert.equal(await supervisor.stop(), 0);
  }
  const lines = (await Deno.readTextFile(log)).trimEnd().split("\n");
  for (const line of lines) assert.match(line, STAMP);
  const events = lines.map((line) => line.slice(25));
  const at = (event: string) => {
    const index = events.indexOf(event);
    assert.ok(index >= 0, `${event} in the log:\n${events.join("\n")}`);
    return index;
  };
  const starts = events.flatMap((event, index) => /^opsd started pid/.test(event) ? [index] : []);
  const exits = events.flatMap((event, index) =>
    /^opsd pid \d+ exited 1 after/.test(event) ? [index] : []
  );
  assert.ok(exits.length >= 3, `three runs ended:\n${events.join("\n")}`);
  for (let run = 1; run <= 3; run++) {
    for (const stream of ["out", "err"]) {
      const line = at(`${stream} line ${run}`);
      const partial = at(`${stream} partial ${run}`);
      assert.ok(starts[run - 1] < line && line < partial, `run ${run}: ${stream} in order`);
      assert.ok(partial < exits[run - 1], `run ${run}: ${stream} before its exited line`);
    }
  }
});

Deno.test("tail of a stopped supervisor gives it 2 s, as status does, then prints the tail its status file holds", async () => {
  await using service = await copyService("partial");
  await using supervisor = await startSupervisor(service.path, ["--restart-delay", "20ms"]);
  await supervisor.waitStatus("a second start", (s) => s.starts >= 2 && s.tail !== "");
  Deno.kill(supervisor.pid, "SIGSTOP");
  try {
    const started = Date.now();
    const tail = await runOpsd(["tail", service.path]);
    const elapsed = Date.now() - started;
    assert.equal(tail.code, 0, tail.stderr);
    assert.equal(tail.stdout, supervisor.status()!.tail);
    // A control word's 5 s would be over 5 s; an opsd run alone may take a while when busy.
    assert.ok(elapsed >= 1900 && elapsed < 4500, `${elapsed} ms`);
  } finally {
    Deno.kill(supervisor.pid, "SIGCONT");
  }
});

Deno.test("at each exit, a partial last line on stderr is ended in the stderr tail too", async () => {
  await using service = await copyService("partial");
  await using supervisor = await startSupervisor(service.path, ["--restart-delay", "20ms"]);
  await supervisor.waitStatus("a fourth start", (s) => s.starts >= 4);
  // Each run writes `line N` and `partial N` (no newline) to stderr, then exits.
  const alone = (lines: string[]) => {
    for (const line of lines) assert.match(line, /^(line|partial) \d+$/, "a line of its own");
    assert.ok(lines.length >= 6, `three runs:\n${lines.join("\n")}`);
  };
  const tail = await runOpsd(["tail", service.path]);
  assert.equal(tail.code, 0, tail.stderr);
  alone(tail.stdout.trimEnd().split("\n"));
  const status = await runOpsd(["status", service.path]);
  alone(status.stdout.split("\n").flatMap((line) => line.match(/^ {2}\| (.*)$/)?.[1] ?? []));
});

Deno.test("detached, the output and messages of a supervisor whose directory a deploy replaced stay in its own directory", async () => {
  await using service = await copyService("counting");
  await using supervisor = await startSupervisor(service.path, ["--detached"]);
  await supervisor.waitStatus("up", (s) => s.state === "up");
  await waitFor("its first lines logged", async () => {
    const text = await Deno.readTextFile(`${service.path}/supervise/current`).catch(() => "");
    return text.includes(" out line 1\n") || null;
  });
  // A deploy: the service directory moved away, a new one (with its state directory) in its place.
  const old = `${service.path}.old`;
  await Deno.rename(service.path, old);
  await Deno.mkdir(`${service.path}/supervise`, { recursive: true, mode: 0o700 });
  // Its `current` removed too: the next line opens it anew, in the directory the supervisor holds.
  await Deno.remove(`${old}/supervise/current`);
  assert.equal(await supervisor.exited, 1, "it noticed, took the service down and exited");
  assert.deepEqual([...Deno.readDirSync(`${service.path}/supervise`)], [], "nothing written there");
  const current = await Deno.readTextFile(`${old}/supervise/current`);
  assert.match(current, / opsd stopping pid \d+: sent TERM to its group\n/);
  const messages = await Deno.readTextFile(`${old}/supervise/opsd.log`);
  assert.match(messages, /was moved or removed: taking the service down, then exiting\n/);
});

Deno.test("a full disk never blocks the service: lost lines are counted and marked, and logging resumes once space is freed", async () => {
  await using dir = await tempDir();
  await using disk = await mountTmpfs(`${dir.path}/disk`, "size=1m");
  if (!disk) return; // Not root (no mount): nothing to try this on.
  await using service = await copyService("counting");
  await using supervisor = await startSupervisor(service.path, [
    "--log-file",
    `${disk.path}/current`,
    "--log-max-size",
    "64k",
    "--log-keep",
    "1",
  ]);
  await supervisor.waitStatus("up", (s) => s.state === "up");
  // Fill the disk.
  const filler = await Deno.open(`${disk.path}/filler`, { write: true, create: true });
  await filler.write(new Uint8Array(2 << 20)).catch(() => {});
  filler.close();
  const full = await supervisor.waitStatus("output dropped", (s) => s.droppedBytes > 0);
  assert.equal(full.state, "up");
  assert.equal(full.starts, 1, "the service was never blocked or restarted");
  const status = await runOpsd(["status", service.path]);
  assert.match(status.stdout, /, \d+ bytes of output dropped\n/);
  await waitFor("the failure said", () => supervisor.output().includes("no space left") || null);
  assert.match(
    supervisor.output(),
    new RegExp(
      `log file ${disk.path}/current: ENOSPC \\(no space left on device\\): its lines are dropped `,
    ),
  );
  await Deno.remove(`${disk.path}/filler`);
  const marker = /opsd dropped (\d+) bytes of output: the log file fell behind or failed\n/;
  const text = await waitFor("logging resumed after the marker", async () => {
    const all = (await Promise.all(
      ["current.1", "current"].map((name) =>
        Deno.readTextFile(`${disk.path}/${name}`).catch(() => "")
      ),
    )).join("");
    const at = all.search(marker);
    return at >= 0 && /out line \d+\n/.test(all.slice(at).split("\n").slice(1).join("\n"))
      ? all
      : null;
  });
  for (const line of text.trimEnd().split("\n")) assert.match(line, STAMP, "no torn line");
  const numbers = [...text.matchAll(/ out line (\d+)$/gm)].map((match) => Number(match[1]));
  assert.ok(numbers.every((n, i) => i === 0 || n > numbers[i - 1]), "in order");
  const dropped = Number(marker.exec(text)![1]);
  assert.ok(dropped > 0);
  await supervisor.waitStatus(
    "status counting what the marker says",
    (s) => s.droppedBytes >= dropped,
  );
});

Deno.test("a log file a full disk has no room for at the start: the service starts all the same, its output counted as dropped", async () => {
  await using dir = await tempDir();
  await using disk = await mountTmpfs(`${dir.path}/disk`, "size=64k,nr_inodes=1"); // no room for a file
  if (!disk) return;
  await using service = await copyService("counting");
  await using supervisor = await startSupervisor(service.path, [
    "--log-file",
    `${disk.path}/current`,
  ]);
  const status = await supervisor.waitStatus(
    "up, output dropped",
    (s) => s.state === "up" && s.droppedBytes > 0,
  );
  assert.equal(status.starts, 1);
  await waitFor("the failure said", () => supervisor.output().includes("no space left") || null);
});

Deno.test("a reader of the supervisor's stderr that does not read never stops its loop: it restarts, answers, and exits", async () => {
  // 200 kB on stderr, then a quick death: a message at every turn.
  await using copy = await copyService("noisy");
  const service = copy.path;
  const [program, ...args] = opsdArgv([
    "supervise",
    service,
    "--restart-delay",
    "50ms",
    "--log-buffer",
    "64k",
  ]);
  // Its stderr is a pipe nobody reads: full after the first run's lines.
  const child = new Deno.Command(program, { args, stdout: "null", stderr: "piped" }).spawn();
  const paths = resolveService(service);
  const pgids = new Set<number>();
  try {
    const record = await waitFor("a sixth start", () => {
      const status = readStatusOrNull(paths);
      status?.instances.forEach((instance) => pgids.add(instance.pgid));
      return status && status.starts >= 6 ? status : null;
    }, { timeout: 20_000 });
    assert.ok(record.droppedBytes > 0, "what could not be written is counted");
    const status = await runOpsd(["status", service]);
    assert.doesNotMatch(status.stderr, /did not answer/);
    assert.match(status.stdout, /crash-loop/);
    child.kill("SIGTERM");
    const exited = await waitFor("the supervisor's exit", () => exitedWith(child), {
      timeout: 20_000,
    });
    assert.equal(exited.code, 0);
  } finally {
    if (!exitedWith(child)) child.kill("SIGKILL");
    await child.status;
    await child.stderr.cancel();
    pgids.forEach(killGroup);
  }
});

const finished = new WeakMap<Deno.ChildProcess, Deno.CommandStatus>();

/** The child's exit status once it has exited, else null. */
function exitedWith(child: Deno.ChildProcess): Deno.CommandStatus | null {
  if (!finished.has(child)) child.status.then((status) => finished.set(child, status));
  return finished.get(child) ?? null;
}

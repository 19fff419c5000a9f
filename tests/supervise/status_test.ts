import assert from "node:assert/strict";
import { readProcStat } from "../../lib/procfs/stat.ts";
import { describeReport } from "../../lib/supervise/report.ts";
import {
  describeStatus,
  isFailing,
  parseStatusRecord,
  type ServiceStatus,
} from "../../lib/supervise/status.ts";

const NOW = Date.parse("2026-11-21T12:00:10.000Z");

/** A record of a service that came up at 12:00:09, one second before NOW. */
function record(changes: Partial<ServiceStatus> = {}): ServiceStatus {
  return {
    format: 1,
    service: "/srv/web",
    role: "main",
    state: "up",
    pid: 1842,
    pgid: 1842,
    instances: [{
      pid: 1842,
      pgid: 1842,
      procStart: 5,
      started: "2026-11-21T12:00:09.000Z",
      id: "a",
    }],
    since: "2026-11-21T12:00:09.000Z",
    starts: 1,
    exitCode: null,
    signal: null,
    ranFor: null,
    error: null,
    want: "up",
    normally: "up",
    paused: false,
    nextRestart: null,
    killAt: null,
    crashLoop: null,
    finish: null,
    tail: "",
    droppedBytes: 0,
    logFile: null,
    supervisor: { pid: 812, procStart: 3, started: "2026-11-21T12:00:00.000Z", detached: false },
    updated: "2026-11-21T12:00:09.000Z",
    ...changes,
  };
}

Deno.test("describeStatus: one second is '1 second'; a crash loop with no ended run says none", () => {
  assert.equal(describeStatus(record(), NOW), "up (pid 1842, pgid 1842) 1 second, normally up");
  assert.equal(
    describeStatus(
      record({ state: "crash-loop", crashLoop: { starts: 6, since: "2026-11-21T12:00:00.000Z" } }),
      NOW,
    ),
    "crash-loop: 6 starts in 10 s, running again (pid 1842, pgid 1842) 1 second",
  );
});

Deno.test("describeStatus: between the runs of a crash loop (stopping leftovers, finishing), the line still says crash-loop", () => {
  const loop = { starts: 4, since: "2026-11-21T12:00:00.000Z" };
  const between = { crashLoop: loop, pid: null, instances: [], exitCode: 0, want: "up" as const };
  assert.equal(
    describeStatus(record({ ...between, state: "stopping", killAt: null }), NOW),
    "crash-loop: 4 starts in 10 s, stopping (what is left of pgid 1842), want up",
  );
  const finishing = record({ ...between, state: "finishing", pgid: null });
  assert.equal(
    describeStatus(finishing, NOW),
    "crash-loop: 4 starts in 10 s, finishing, exited 0, want up",
  );
  assert.equal(isFailing(finishing), true, "its stderr tail is shown");
});

Deno.test("describeStatus: a KILL deadline just passed (stop-timeout 0, a slow reader) says 0 ms, not a negative time", () => {
  const stopping = record({ state: "stopping", want: "down", killAt: "2026-11-21T12:00:09.996Z" });
  assert.equal(
    describeStatus(stopping, NOW),
    "stopping (pid 1842, pgid 1842), KILL in 0 ms, want down",
  );
});

Deno.test("parseStatusRecord takes what the supervisor writes and names the first bad field", () => {
  assert.deepEqual(parseStatusRecord(JSON.stringify(record())), record());
  const { finish: _, ...older } = record();
  assert.deepEqual(
    parseStatusRecord(JSON.stringify(older)),
    older,
    "records before finish existed",
  );
  const { detached: _d, exiting: _e, ...olderSupervisor } = record().supervisor;
  const beforeDetached = { ...record(), supervisor: olderSupervisor };
  assert.deepEqual(
    parseStatusRecord(JSON.stringify(beforeDetached)),
    beforeDetached,
    "records before detached and exiting existed",
  );
  assert.throws(
    () => parseStatusRecord(JSON.stringify(record({ since: "garbage" }))),
    /^Error: bad field 'since'$/,
  );
  assert.throws(
    () => parseStatusRecord(JSON.stringify({ ...record(), format: 2 })),
    /not an opsd status record/,
  );
});

Deno.test("describeReport: the stderr tail under a failing service, escape sequences escaped", () => {
  const failing = record({
    state: "crash-loop",
    crashLoop: { starts: 3, since: "2026-11-21T12:00:00.000Z" },
    exitCode: 1,
    pid: null,
    pgid: null,
    instances: [],
    tail: "boom \x1b]0;owned\x07\n\tat main\n",
  });
  const report = {
    name: "web",
    service: "/srv/web",
    role: "main" as const,
    supervisor: { running: true, pid: 812, detached: false, exiting: null },
    state: failing.state,
    uptime: 1,
    restartIn: null,
    unsupervised: [],
    record: failing,
    notes: [],
  };
  assert.equal(
    describeReport(report, NOW),
    "web: crash-loop: 3 starts in 10 s, last exited 1\n  | boom ^[]0;owned^G\n  | \\tat main",
  );
});

Deno.test("describeReport: a record whose supervisor still lives names another directory only when it is another's (copied), not its own ending one", () => {
  const self = { pid: Deno.pid, procStart: readProcStat(Deno.pid)!.startTime, started: "" };
  const down = record({
    state: "down",
    pid: null,
    pgid: null,
    instances: [],
    signal: "SIGTERM",
    since: "2026-11-21T12:00:09.000Z",
    supervisor: { ...self, detached: false, exiting: "opsd exit" },
  });
  const report = (service: string) => ({
    name: "web",
    service,
    role: "main" as const,
    supervisor: { running: false, pid: null, detached: false, exiting: null },
    state: "down" as const,
    uptime: 1,
    restartIn: null,
    unsupervised: [],
    record: down,
    notes: [],
  });
  // Its supervisor let go of the lock and has not quite exited (opsd exit prints it then).
  assert.equal(
    describeReport(report("/srv/web"), NOW),
    "web: supervisor not running; down 1 second, killed by SIGTERM",
  );
  assert.equal(
    describeReport(report("/srv/web2"), NOW),
    `web: supervisor not running; its status.json was written by supervisor pid ${Deno.pid}, ` +
      "which runs for /srv/web (a copied directory?)",
  );
});

import assert from "node:assert/strict";
import {
  loadSettings,
  normalizeSettings,
  readSettingsFile,
  SETTINGS,
  settingsFromFlags,
} from "../../lib/service/settings.ts";
import { parseSize } from "../../lib/size.ts";
import { tempDir } from "../fixtures/mod.ts";

Deno.test("normalizeSettings fills every default from the one table", () => {
  const settings = normalizeSettings("/srv/web");
  assert.deepEqual(settings, {
    restartDelay: 100,
    restartDelayMax: 30_000,
    stableAfter: 10_000,
    crashLoopAfter: 3,
    stopSignal: 15,
    stopTimeout: 10_000,
    finishTimeout: 5000,
    tailBytes: 400,
    logFile: null,
    logMaxSize: 10 * 1024 * 1024,
    logKeep: 10,
    logBuffer: 16 * 1024 * 1024,
    user: null,
    group: null,
    umask: null,
    notificationFd: null,
  });
  assert.equal(Object.keys(SETTINGS).length, Object.keys(settings).length);
});

Deno.test("a settings file is read, and flags override it", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/opsd.conf`;
  await Deno.writeTextFile(
    file,
    "# web\n\nstop-timeout = 30s\nstop-signal=INT\n  log-file = log/current  \numask = 027\n",
  );
  const settings = normalizeSettings(
    dir.path,
    readSettingsFile(file),
    settingsFromFlags({ "stop-timeout": "5s", "log-keep": undefined }),
  );
  assert.equal(settings.stopTimeout, 5000);
  assert.equal(settings.stopSignal, 2);
  assert.equal(settings.logFile, `${dir.path}/log/current`);
  assert.equal(settings.umask, 0o027);
  assert.equal(settings.logKeep, 10);
  assert.deepEqual(readSettingsFile(`${dir.path}/missing.conf`), {});
});

Deno.test("loadSettings reads a service's settings file, flags over it, and names where each value came from", async () => {
  await using dir = await tempDir();
  const service = {
    dir: dir.path,
    settingsFile: `${dir.path}/opsd.conf`,
    form: "directory" as const,
  };
  assert.deepEqual(loadSettings(service).settings, normalizeSettings(dir.path));
  await Deno.writeTextFile(service.settingsFile, "stop-timeout = 30s\nuser = nobody\n");
  const { settings, sourceOf } = loadSettings(
    service,
    settingsFromFlags({ "stop-timeout": "5s" }),
  );
  assert.deepEqual([settings.stopTimeout, settings.user], [5000, "nobody"]);
  assert.equal(sourceOf("stop-timeout"), "--stop-timeout");
  assert.equal(sourceOf("user"), `${service.settingsFile}:2: user`);
  assert.equal(sourceOf("group"), "group");
  await Deno.writeTextFile(service.settingsFile, "stop-timeout = 0.1ms\nrestart-delay = 5ms\n");
  assert.throws(() => loadSettings(service), {
    message: `${service.settingsFile}:2: restart-delay: bad value '5ms': expected at least 10ms: ` +
      "a failing service would restart hundreds of times a second",
  });
});

Deno.test("unknown keys and bad values name the file and line", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/opsd.conf`;
  await Deno.writeTextFile(file, "restart_delay = 1s\n");
  assert.throws(
    () => readSettingsFile(file),
    new RegExp(
      `^UsageError: ${file}:1: unknown setting "restart_delay": known settings are restart-delay, `,
    ),
  );
  await Deno.writeTextFile(file, "# ok\nstop-timeout = soon\n");
  assert.throws(
    () => normalizeSettings(dir.path, readSettingsFile(file)),
    new RegExp(`${file}:2: stop-timeout: bad duration "soon"`),
  );
  await Deno.writeTextFile(file, "just words\n");
  assert.throws(
    () => readSettingsFile(file),
    /opsd.conf:1: expected "key = value", got "just words"/,
  );
  assert.throws(
    () => normalizeSettings(dir.path, settingsFromFlags({ "stop-signal": "NOPE" })),
    /^UsageError: --stop-signal: bad signal "NOPE"/,
  );
  assert.throws(
    () => normalizeSettings(dir.path, settingsFromFlags({ "restart-delay": "1m" })),
    /^UsageError: restart-delay-max: 30s is below restart-delay \(1m\)/,
  );
  assert.throws(() => settingsFromFlags({ bogus: "1" }), /flags: unknown setting "bogus"/);
  // Floors that keep a failing service from restarting hundreds of times a second unseen.
  assert.throws(
    () => normalizeSettings(dir.path, settingsFromFlags({ "restart-delay": "0" })),
    /^UsageError: --restart-delay: bad value '0': expected at least 10ms: a failing service would restart hundreds /,
  );
  assert.throws(
    () => normalizeSettings(dir.path, settingsFromFlags({ "stable-after": "50ms" })),
    /^UsageError: --stable-after: bad value '50ms': expected at least 100ms: every crash would count as a stable run/,
  );
  for (const signal of ["STOP", "TSTP", "CONT", "CHLD", "19"]) {
    assert.throws(
      () => normalizeSettings(dir.path, settingsFromFlags({ "stop-signal": signal })),
      /^UsageError: --stop-signal: bad value '\w+': SIG[A-Z]+ does not stop a process: use TERM, INT, QUIT/,
      signal,
    );
  }
  assert.equal(
    normalizeSettings(dir.path, settingsFromFlags({ "stop-signal": "KILL" })).stopSignal,
    9,
  );
  // A timer takes at most 2^31 - 1 ms: more would fire at once.
  assert.throws(
    () => normalizeSettings(dir.path, settingsFromFlags({ "stop-timeout": "600h" })),
    /^UsageError: --stop-timeout: bad value '600h': expected at most 596h, the longest a timer takes$/,
  );
});

Deno.test("parseSize reads bytes and k, M, G multiples of 1024", () => {
  assert.equal(parseSize("400"), 400);
  assert.equal(parseSize("64k"), 65536);
  assert.equal(parseSize("10M"), 10 * 1024 * 1024);
  assert.equal(parseSize("1MiB"), 1024 * 1024);
  assert.equal(parseSize("1.5kB"), 1536);
  assert.throws(
    () => parseSize("lots"),
    /bad size "lots": expected bytes, or a number with k, M or G/,
  );
});

Deno.test("notification-fd: 3 to 1023 or none; s6's notification-fd file in a service directory, under opsd.conf", async () => {
  await using dir = await tempDir();
  const service = {
    dir: dir.path,
    settingsFile: `${dir.path}/opsd.conf`,
    form: "directory" as const,
  };
  assert.equal(loadSettings(service).settings.notificationFd, null);
  await Deno.writeTextFile(`${dir.path}/notification-fd`, "5\n");
  assert.equal(loadSettings(service).settings.notificationFd, 5);
  assert.equal(loadSettings({ ...service, form: "script" }).settings.notificationFd, null);
  await Deno.writeTextFile(service.settingsFile, "notification-fd = 3\n");
  assert.equal(loadSettings(service).settings.notificationFd, 3);
  await Deno.writeTextFile(service.settingsFile, "");
  await Deno.writeTextFile(`${dir.path}/notification-fd`, "1\n");
  assert.throws(() => loadSettings(service), {
    message: `${dir.path}/notification-fd: bad value '1': expected 3 to 1023: 0, 1 and 2 are ` +
      "the service's stdin, stdout and stderr",
  });
  assert.throws(() => loadSettings(service, settingsFromFlags({ "notification-fd": "x" })), {
    message: "--notification-fd: bad value 'x': expected a whole number, 3 to 1023",
  });
});

Deno.test("a key given twice in a settings file takes its last value", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/opsd.conf`;
  await Deno.writeTextFile(file, "stop-timeout = 30s\n# later\nstop-timeout = 5s\n");
  assert.deepEqual(readSettingsFile(file)["stop-timeout"], {
    text: "5s",
    where: `${file}:3: stop-timeout`,
  });
});

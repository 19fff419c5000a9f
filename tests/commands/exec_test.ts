import assert from "node:assert/strict";
import { runOpsd, type RunOptions, tempDir } from "../fixtures/mod.ts";
import { sanitizedTest } from "../fixtures/sanitized.ts";

sanitizedTest(
  "opsd exec --user looks for the program with that user's rights: a file only root may execute is refused (126), saying why",
  async () => {
    await using dir = await tempDir();
    Deno.chmodSync(dir.path, 0o755);
    const program = `${dir.path}/prog`;
    Deno.writeTextFileSync(program, "#!/bin/sh\necho ran\n", { mode: 0o700 });
    const asRoot = await runOpsd(["exec", "--", program]);
    assert.deepEqual([asRoot.code, asRoot.stdout], [0, "ran\n"]);
    const asNobody = await runOpsd(["exec", "--user", "nobody", "--", program]);
    assert.deepEqual([asNobody.code, asNobody.stdout, asNobody.stderr], [
      126,
      "",
      `opsd exec: ${program}: permission denied: user nobody may not execute it: check its owner ` +
      "and mode (ls -l), and that its file system is not mounted noexec\n",
    ]);
  },
);

sanitizedTest(
  "opsd exec --group alone keeps the user and makes the group the only one",
  async () => {
    const run = await runOpsd(["exec", "--group", "nogroup", "--", "id"]);
    assert.deepEqual([run.code, run.stdout], [
      0,
      "uid=0(root) gid=65534(nogroup) groups=65534(nogroup)\n",
    ]);
  },
);

sanitizedTest(
  "opsd exec as root that may not switch (no CAP_SETGID or CAP_SETUID, or a user namespace denying setgroups): the refused call, why, and what to do, in one line (4)",
  async () => {
    const withoutSetuid = ["setpriv", "--bounding-set=-setuid", "--inh-caps=-setuid"];
    const cases: [string[], RunOptions, string][] = [
      [
        ["--user", "nobody"],
        { withoutCapabilities: true },
        'cannot run as user "nobody": setgroups: EPERM (operation not permitted): opsd runs as ' +
        "root without CAP_SETGID (a restricted container?), and switching users needs " +
        "CAP_SETUID and CAP_SETGID: grant them, or drop --user",
      ],
      [
        ["--user", "nobody", "--group", "nogroup"],
        { under: withoutSetuid },
        'cannot run as user "nobody" with group "nogroup": setuid: EPERM (operation not ' +
        "permitted): opsd runs as root without CAP_SETUID (a restricted container?), and " +
        "switching users needs CAP_SETUID and CAP_SETGID: grant them, or drop --user and --group",
      ],
      [
        ["--group", "nogroup"],
        { withoutCapabilities: true },
        'cannot run with group "nogroup": setgroups: EPERM (operation not permitted): opsd runs ' +
        "as root without CAP_SETGID (a restricted container?), and switching groups needs " +
        "CAP_SETGID: grant it, or drop --group",
      ],
      [
        ["--user", "root"],
        { under: ["unshare", "--user", "--map-root-user"] },
        'cannot run as user "root": setgroups: EPERM (operation not permitted): opsd\'s user ' +
        "namespace denies setgroups (/proc/self/setgroups says deny, as in a rootless " +
        "container); run opsd outside it, or drop --user",
      ],
    ];
    for (const [switches, options, message] of cases) {
      const run = await runOpsd(["exec", ...switches, "--", "echo", "ran"], options);
      assert.deepEqual([run.code, run.stdout, run.stderr], [4, "", `opsd exec: ${message}\n`]);
    }
  },
);

sanitizedTest(
  "opsd exec and opsd daemon as an unprivileged user: another user or group is refused (4) in one line saying only root can switch",
  async () => {
    const nobody = { uid: 65534, gid: 65534 };
    for (const command of ["exec", "daemon"]) {
      const run = await runOpsd([command, "--user", "root", "--", "echo", "ran"], {
        asUser: nobody,
      });
      assert.deepEqual([run.code, run.stdout, run.stderr], [
        4,
        "",
        `opsd ${command}: cannot run as user "root": only root can switch users; ` +
        "run opsd as root or drop --user\n",
      ]);
    }
    // Its own user, but not its group: setgid to the account's group is the kernel's to refuse.
    const run = await runOpsd(["exec", "--user", "nobody", "--", "echo", "ran"], {
      asUser: { uid: 65534, gid: 1 },
    });
    assert.deepEqual([run.code, run.stdout, run.stderr], [
      4,
      "",
      'opsd exec: cannot run as user "nobody": setgid: EPERM (operation not permitted): ' +
      "only root can switch groups; run opsd as root or drop --user\n",
    ]);
    // Its own user and group, but a supplementary group more than asked for: only root may
    // drop it, and opsd will not run the program with it kept.
    const extra = { uid: 65534, gid: 65534, groups: [100] };
    for (
      const [switches, asked, drop] of [
        [["--group", "nogroup"], 'with group "nogroup" as its only group', "--group"],
        [["--user", "nobody"], 'as user "nobody" with its groups (65534)', "--user"],
      ]
    ) {
      const kept = await runOpsd(["exec", ...switches, "--", "echo", "ran"], { asUser: extra });
      assert.deepEqual([kept.code, kept.stdout, kept.stderr], [
        4,
        "",
        `opsd exec: cannot run ${asked}: opsd also has group(s) 100, and only root can change ` +
        `supplementary groups; run opsd as root or drop ${drop}\n`,
      ]);
    }
    const same = await runOpsd(["exec", "--user", "nobody", "--", "id", "-G"], {
      asUser: { uid: 65534, gid: 65534, groups: [65534] },
    });
    assert.deepEqual([same.code, same.stdout], [0, "65534\n"]);
  },
);

sanitizedTest(
  "an empty --user or --group (an unset variable) is refused as empty, by exec and daemon alike (2)",
  async () => {
    const cases = [
      ["exec", "-u", "a user name or uid"],
      ["exec", "--group", "a group name or gid"],
      ["daemon", "--user", "a user name or uid"],
      ["daemon", "-g", "a group name or gid"],
    ];
    for (const [command, option, what] of cases) {
      const run = await runOpsd([command, option, "", "--", "true"]);
      assert.deepEqual([run.code, run.stdout, run.stderr], [
        2,
        "",
        `opsd ${command}: ${option}: bad value '': expected ${what}, not an empty string ` +
        `(an unset variable?) (see 'opsd ${command} --help')\n`,
      ], `${command} ${option}`);
    }
  },
);

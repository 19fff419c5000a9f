/**
 * opsd: run services well. This file builds the command tree; each command
 * lives in commands/, the engine in lib/.
 *
 * @module
 */

import { defineCommand } from "./lib/cli/spec.ts";
import { runCli } from "./lib/cli/run.ts";
import { controlCommands, svcCommand } from "./commands/control.ts";
import { daemonCommand } from "./commands/daemon.ts";
import { execCommand } from "./commands/exec.ts";
import { fdsCommand } from "./commands/fds.ts";
import { statusCommand } from "./commands/status.ts";
import { superviseCommand } from "./commands/supervise.ts";
import { tailCommand } from "./commands/tail.ts";
import { waitCommand } from "./commands/wait.ts";
import { VERSION } from "./lib/version.ts";

const opsd = defineCommand({
  name: "opsd",
  summary: "run services well",
  description:
    "Run services well: supervise them, daemonize commands, inspect open files and ports.",
  version: VERSION,
  commands: [
    superviseCommand(),
    statusCommand(),
    ...controlCommands(),
    svcCommand(),
    tailCommand(),
    waitCommand(),
    daemonCommand(),
    fdsCommand(),
    execCommand(),
  ],
  after: `
Examples:
  opsd supervise --daemon /srv/web   keep /srv/web running, in the background
  opsd status /srv/web               is it up, since when, why it fails
  opsd restart /srv/web              stop it, then start it again
  opsd tail -f /srv/web              follow its log file
  opsd fds --port 8080 --listen      who listens on port 8080
  opsd daemon --pidfile /run/app.pid --log /var/log/app.log -- ./app --port 8080

Exit codes: 0 ok (or something matched), 1 failure (or nothing matched), 2 usage error,
3 not running, 4 permission denied, 5 already running, 6 timed out, 126/127 cannot execute/not found,
128+N interrupted by signal N (what was being started in the background is stopped).`,
});

await runCli(opsd, Deno.args);

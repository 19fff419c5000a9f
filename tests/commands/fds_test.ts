/**
 * `opsd fds` end to end, with Debian's lsof as the oracle: a fixture process
 * holds one fd of every kind (tests/fixtures/fds_holder.ts) and both tools
 * describe it.
 */

import assert from "node:assert/strict";
import { escapeText } from "../../lib/text/escape.ts";
import {
  CAN_UNSHARE_NET,
  CAN_UNSHARE_PID,
  forgingUnixPath,
  freePort,
  type HolderInfo,
  IN_OTHER_NETNS,
  type OpsdRun,
  runOpsd,
  startHolder,
  tempDir,
  unusedSocketInode,
  waitFor,
} from "../fixtures/mod.ts";
import { opsdArgv } from "../../lib/self.ts";
import { bundleOpsd } from "../../scripts/bundle.ts";
import { readProcStat } from "../../lib/procfs/stat.ts";
import { bind, close, connect, listen, socket } from "../../lib/sys/libc.ts";
import { SOCK } from "../../lib/sys/constants.ts";
import { sanitizedTest } from "../fixtures/sanitized.ts";

/**
 * The order of opsd's rows, as lsof's: by pid, then fd (the child's pid may be
 * the lower one: pids wrap around at pid_max).
 */
function inRowOrder(a: [number, string, ...unknown[]], b: [number, string, ...unknown[]]) {
  return a[0] - b[0] || Number(a[1]) - Number(b[1]);
}
import type { FdRow } from "../../lib/fds/row.ts";

/** A line of `opsd fds --json`. */
type JsonRow = Omit<FdRow, "fdNumber">;

const HAS_LSOF = new Deno.Command("sh", { args: ["-c", "command -v lsof"] }).outputSync().success;
const IS_ROOT = Deno.uid() === 0;
/** The uid and gid of `nobody`, to run opsd as another user; null when there is no such user. */
const NOBODY = (() => {
  const id = (flag: string) =>
    new Deno.Command("id", { args: [flag, "nobody"], stderr: "null" })
      .outputSync();
  const [uid, gid] = [id("-u"), id("-g")];
  if (!uid.success || !gid.success) return null;
  return [uid, gid].map((out) => Number(new TextDecoder().decode(out.stdout)));
})();
const HAS_SETPRIV =
  new Deno.Command("sh", { args: ["-c", "command -v setpriv"] }).outputSync().success;
/** Whether a mount namespace can be made (to bind-mount without touching the machine's mounts). */
const CAN_UNSHARE_MOUNT = IS_ROOT &&
  new Deno.Command("unshare", { args: ["-m", "true"], stderr: "null" }).outputSync().success;

/**
 * A test run against a fresh fd holder in a temporary directory; both are gone
 * afterwards, even when an assertion fails.
 */
function holderTest(
  name: string,
  fn: (holder: HolderInfo, dir: string) => Promise<void>,
  options: { ignore?: boolean; wrapper?: string[] } = {},
): void {
  Deno.test({
    name,
    ignore: options.ignore,
    sanitizeResources: true,
    sanitizeOps: true,
    async fn() {
      await using dir = await tempDir();
      await using holder = await startHolder(dir.path, options.wrapper);
      await fn(holder, dir.path);
    },
  });
}

/** The `sleep` program, symlinks resolved. */
const SLEEP = Deno.realPathSync(
  new TextDecoder().decode(
    new Deno.Command("sh", { args: ["-c", "command -v sleep"] }).outputSync().stdout,
  ).trim(),
);

/**
 * Starts `sleep` through `program` (a link to it, whose name becomes the command
 * name), holding `files` open for reading on fds 3, 4…, run by `wrapper` (such
 * as setpriv, which execs) in `cwd`; disposing of it kills it by pid.
 */
async function startSleeper(
  options: { program?: string; files?: string[]; wrapper?: string[]; cwd?: string } = {},
): Promise<{ pid: number } & AsyncDisposable> {
  const { program = SLEEP, files = [], wrapper = [], cwd } = options;
  const redirects = files.map((_, i) => `${i + 3}<"$${i + 1}"`).join(" ");
  const argv = [...wrapper, "sh", "-c", `exec "$0" 1000 ${redirects}`, program, ...files];
  const child = new Deno.Command(argv[0], { args: argv.slice(1), stdin: "null", cwd }).spawn();
  const name = new TextEncoder().encode(program.slice(program.lastIndexOf("/") + 1));
  const comm = new TextDecoder().decode(name.subarray(0, 15));
  try {
    await waitFor("sleep to start", () => readProcStat(child.pid)?.comm === comm);
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw error;
  }
  return {
    pid: child.pid,
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await child.status;
    },
  };
}

/**
 * `stderr` without the note on processes that even root with every capability
 * cannot inspect (the init of some sandboxes): true there, and no error.
 */
function withoutRootNote(stderr: string): string {
  return stderr.replace(
    /^opsd fds: \d+ process\(es\) could not be inspected \(permission denied\)(: one of .*)?\n/m,
    "",
  );
}

async function fdsJson(args: string[]): Promise<JsonRow[]> {
  const run = await runOpsd(["fds", "--json", ...args]);
  assert.equal(withoutRootNote(run.stderr), "");
  return run.stdout.trim() === "" ? [] : run.stdout.trim().split("\n").map((l) => JSON.parse(l));
}

/** lsof's view of one process (`-F` fields, NAME as its table shows it), by FD, without mem rows. */
async function lsofRows(pid: number): Promise<Map<string, Record<string, string>>> {
  const { stdout } = await new Deno.Command("lsof", {
    args: ["-nP", "-w", "-p", String(pid), "-F", "fatlinT"],
  })
    .output();
  const rows = new Map<string, Record<string, string>>();
  let current: Record<string, string> | null = null;
  for (const line of new TextDecoder().decode(stdout).split("\n")) {
    const [field, value] = [line[0], line.slice(1)];
    if (field === "f") {
      current = { fd: value };
      if (value !== "mem" && value !== "DEL") rows.set(value, current);
    } else if (current && field === "T") {
      // TCP and unix socket state: the table shows it after the name.
      if (value.startsWith("ST=")) current.n += ` (${value.slice(3)})`;
    } else if (current && field) {
      current[field] = value.trim();
    }
  }
  return rows;
}

/** The fields both tools show, from an opsd row, as lsof -F spells them. */
function asLsof(row: JsonRow): Record<string, string> {
  const fields: Record<string, string> = {
    fd: row.fd ?? "?",
    a: row.mode,
    l: row.lock,
    t: row.type,
    n: row.name,
  };
  // NODE is the protocol there (TCP, UDP; a packet socket's ALL, IP…), no inode: -F has no i.
  if (!["IPv4", "IPv6", "pack"].includes(row.type)) fields.i = row.node;
  return fields;
}

holderTest(
  "opsd fds -p agrees with lsof on every fd: files, pipes, sockets, locks (OFD locks documented)",
  async (holder) => {
    const before = await lsofRows(holder.pid);
    const opsd = await fdsJson(["-p", String(holder.pid)]);
    const after = await lsofRows(holder.pid);
    // Compare the fds lsof saw the same both times (Deno's own cache files may move meanwhile).
    const stable = [...before].filter(([fd, row]) =>
      JSON.stringify(after.get(fd)) === JSON.stringify(row)
    );
    for (const fd of Object.values(holder.fds)) {
      assert.ok(stable.some(([key]) => key === String(fd)), `fd ${fd} changed during the test`);
    }
    const ofd = String(holder.fds.ofd);
    const byFd = new Map(opsd.map((row) => [row.fd, asLsof(row)]));
    for (const [fd, expected] of stable) {
      const actual = byFd.get(fd);
      assert.ok(actual, `opsd misses fd ${fd}: ${JSON.stringify(expected)}`);
      if (fd === ofd) {
        // Documented difference: lsof never shows OFD locks; opsd does.
        assert.equal(expected.l, "");
        assert.equal(actual.l, "W");
        expected.l = "W";
      }
      const { i: node, ...rest } = expected;
      const comparable = actual.i === undefined ? rest : { ...rest, i: node };
      assert.deepEqual(actual, comparable, `fd ${fd}`);
    }
    assert.equal(opsd.filter((row) => /^\d+$/.test(row.fd ?? "")).length, before.size - 3); // + cwd rtd txt
    const get = (name: string) => opsd.find((row) => row.fd === String(holder.fds[name]))!;
    assert.deepEqual([get("flock").lock, get("posix").lock, get("partial").lock], ["W", "W", "r"]);
    assert.deepEqual(
      ["read", "write", "readWrite", "append"].map((name) => get(name).mode),
      ["r", "w", "u", "w"],
    );
    assert.equal(get("deleted").name, `${holder.paths.deleted} (deleted)`);
    assert.equal(get("tcp6").name, `*:${holder.ports.tcp6} (LISTEN)`);
    assert.equal(get("udp").name, `127.0.0.1:${holder.ports.udp}`);
    assert.equal(get("pipeRead").name, "pipe");
    assert.deepEqual([get("netlink").type, get("netlink").name], ["sock", "protocol: NETLINK"]);
    // Bound, it is in /proc/net/netlink: lsof's TYPE netlink and the protocol as NAME.
    const bound = get("netlinkBound");
    assert.deepEqual([bound.type, bound.device, bound.name], ["netlink", "", "ROUTE"]);
    if (holder.fds.raw !== undefined) {
      // As lsof: the raw table's fields; a packet socket's protocol (0: none) as NODE.
      assert.deepEqual([get("raw").type, get("raw").name], [
        "raw",
        "00000000:00FF->00000000:0000 st=07",
      ]);
      const packet = get("packet");
      assert.deepEqual([packet.type, packet.node, packet.name], ["pack", "0", "type=SOCK_DGRAM"]);
    }
    assert.equal(get("unix").name, `${holder.unixPath} type=STREAM (LISTEN)`);
    assert.deepEqual([get("leaky").cloexec, get("tcp4").cloexec], [false, true]);
  },
  { ignore: !HAS_LSOF },
);

holderTest(
  "opsd fds --port finds IPv4, dual-stack IPv6 and UDP sockets and their v4-mapped peers",
  async (holder) => {
    const names = async (args: string[]) =>
      (await fdsJson(args)).filter((r) => r.pid === holder.pid).map((r) => `${r.type} ${r.name}`);
    const { tcp4, tcp6, dualStack, udp } = holder.ports;
    assert.deepEqual(await names(["--port", String(tcp4), "--listen"]), [
      `IPv4 127.0.0.1:${tcp4} (LISTEN)`,
    ]);
    assert.deepEqual(await names(["--port", String(tcp6), "--listen", "--tcp"]), [
      `IPv6 *:${tcp6} (LISTEN)`,
    ]);
    const client = holder.clientPort;
    assert.deepEqual((await names(["--port", String(dualStack)])).sort(), [
      `IPv4 127.0.0.1:${client}->127.0.0.1:${dualStack} (ESTABLISHED)`,
      `IPv6 *:${dualStack} (LISTEN)`,
      `IPv6 127.0.0.1:${dualStack}->127.0.0.1:${client} (ESTABLISHED)`,
    ]);
    assert.deepEqual(await names(["--port", String(dualStack), "--listen"]), [
      `IPv6 *:${dualStack} (LISTEN)`,
    ]);
    assert.deepEqual(await names(["--port", String(udp), "--udp"]), [
      `IPv4 127.0.0.1:${udp}`,
      `IPv4 127.0.0.1:${udp}`,
    ]);
    assert.deepEqual(await names(["--port", String(udp), "--tcp"]), []);
    // Repeated --port widens; -p narrows.
    const both = await fdsJson([
      "--port",
      String(tcp4),
      "--port",
      String(tcp6),
      "-p",
      String(holder.pid),
    ]);
    assert.deepEqual(both.map((r) => r.fd), [String(holder.fds.tcp4), String(holder.fds.tcp6)]);
    // The inherited listener: held by the fixture and by its child.
    const leaky = await fdsJson(["--port", String(holder.ports.leaky), "--tcp"]);
    assert.deepEqual(
      leaky.map((r) => [r.pid, r.fd]),
      ([[holder.pid, String(holder.fds.leaky)], [holder.child, "3"]] as [number, string][])
        .sort(inRowOrder),
    );
  },
);

holderTest(
  "opsd fds --port agrees with lsof -iTCP:P -sTCP:LISTEN on who listens",
  async (holder) => {
    const port = String(holder.ports.leaky);
    const { stdout } = await new Deno.Command("lsof", {
      args: ["-nP", "-w", `-iTCP:${port}`, "-sTCP:LISTEN", "-F", "pf"],
    }).output();
    const expected: string[] = [];
    let pid = "";
    for (const line of new TextDecoder().decode(stdout).trim().split("\n")) {
      if (line[0] === "p") pid = line.slice(1);
      if (line[0] === "f") expected.push(`${pid}:${line.slice(1)}`);
    }
    const rows = await fdsJson(["--port", port, "--listen", "--tcp"]);
    assert.deepEqual(rows.map((r) => `${r.pid}:${r.fd}`), expected);
  },
  { ignore: !HAS_LSOF },
);

holderTest(
  "opsd fds --port FIRST-LAST agrees with lsof -i :FIRST-LAST, local and remote ports, TCP and UDP",
  async (holder) => {
    // The holder's ports and the ports around them: other processes' sockets may be there too.
    const ports = [holder.ports.tcp4, holder.ports.udp, holder.clientPort];
    const range = `${Math.min(...ports) - 1}-${Math.max(...ports) + 1}`;
    const lsof = await new Deno.Command("lsof", {
      args: ["-nP", "-w", `-i:${range}`, "-F", "pf"],
    }).output();
    const expected = new Set<string>();
    let pid = "";
    for (const line of new TextDecoder().decode(lsof.stdout).trim().split("\n")) {
      if (line[0] === "p") pid = line.slice(1);
      if (line[0] === "f") expected.add(`${pid}:${line.slice(1)}`);
    }
    // Sockets may open and close between the two runs: compare the holder's alone.
    const holders = (keys: Iterable<string>) =>
      [...keys].filter((key) => key.startsWith(`${holder.pid}:`)).sort();
    const rows = await fdsJson(["--port", range]);
    assert.deepEqual(holders(rows.map((r) => `${r.pid}:${r.fd}`)), holders(expected));
    const fds = (keys: string[]) => new Set(keys.map((key) => Number(key.split(":")[1])));
    for (const name of ["tcp4", "udp", "udpDup"]) {
      assert.ok(fds(holders(expected)).has(holder.fds[name]), name);
    }
    // A range of one port is that port; a range beside it finds nothing of it.
    const one = `${holder.ports.udp}-${holder.ports.udp}`;
    const single = await fdsJson(["--port", one, "--udp"]);
    assert.deepEqual(
      single.map((r) => r.fd),
      (await fdsJson(["--port", String(holder.ports.udp), "--udp"])).map((r) => r.fd),
    );
    const beside = `${holder.ports.udp + 1}-${holder.ports.udp + 1}`;
    const other = await fdsJson(["--port", beside, "--udp", "-p", String(holder.pid)]);
    assert.deepEqual(other, []);
    // A list, as lsof's -i :A,B and -p A,B (and pgrep -d, prints), is the option repeated.
    const key = (rows: { pid: number | null; fd: string | null }[]) =>
      rows.map((r) => `${r.pid}:${r.fd}`).sort();
    const pids = [holder.pid, holder.child].map(String);
    const listed = ["--port", `${holder.ports.tcp4},${holder.ports.udp}`, "-p", pids.join(",")];
    const repeated = [
      ...["--port", String(holder.ports.tcp4), "--port", String(holder.ports.udp)],
      ...["-p", pids[0], "-p", pids[1]],
    ];
    const byList = key(await fdsJson(listed));
    assert.ok(byList.includes(`${holder.pid}:${holder.fds.tcp4}`), byList.join(" "));
    assert.ok(byList.includes(`${holder.pid}:${holder.fds.udp}`), byList.join(" "));
    assert.deepEqual(byList, key(await fdsJson(repeated)));
    // -t prints the pids of those rows, each once, as lsof -t; never with --json.
    const terse = await runOpsd(["fds", "-t", ...listed]);
    const listedPids = [...new Set((await fdsJson(listed)).map((r) => r.pid))];
    assert.deepEqual([terse.code, terse.stdout], [0, listedPids.map((p) => `${p}\n`).join("")]);
    assert.ok(listedPids.includes(holder.pid));
    const none = await runOpsd(["fds", "-t", "--port", beside, "-p", String(holder.pid)]);
    assert.deepEqual([none.code, none.stdout], [1, ""]);
    const both = await runOpsd(["fds", "-t", "--json", "-p", String(holder.pid)]);
    assert.deepEqual([both.code, both.stdout, both.stderr], [
      2,
      "",
      "opsd fds: -t prints pids and --json rows: choose one (see 'opsd fds --help')\n",
    ]);
    for (const bad of [["-p", `${pids[0]},`], ["--port", "80,,443"], ["--port", "80,http"]]) {
      const run = await runOpsd(["fds", ...bad]);
      assert.deepEqual([run.code, run.stdout], [2, ""], bad.join(" "));
    }
  },
  { ignore: !HAS_LSOF },
);

holderTest(
  "opsd fds --path, --unix and -c select files and processes; selectors combine with AND",
  async (holder) => {
    const pid = String(holder.pid);
    const read = await fdsJson(["--path", holder.paths.read]);
    assert.deepEqual(read.map((r) => [r.pid, r.fd, r.mode]), [[
      holder.pid,
      String(holder.fds.read),
      "r",
    ]]);
    const deleted = await fdsJson(["--path", holder.paths.deleted]);
    assert.deepEqual(deleted.map((r) => r.name), [`${holder.paths.deleted} (deleted)`]);
    // FILE operands are --path FILE, as lsof takes them.
    assert.deepEqual(await fdsJson([holder.paths.read]), read);
    assert.deepEqual(
      (await fdsJson([holder.paths.read, "--path", holder.paths.deleted])).map((r) => r.fd),
      [String(holder.fds.read), String(holder.fds.deleted)],
    );
    const unix = await fdsJson(["--unix", holder.unixPath]);
    assert.deepEqual(unix.map((r) => [r.pid, r.type, r.socket?.state]), [[
      holder.pid,
      "unix",
      "LISTEN",
    ]]);
    const cwd = await fdsJson(["--path", Deno.cwd(), "-p", pid]);
    assert.deepEqual(cwd.map((r) => r.fd), ["cwd"]);
    const byCommand = await fdsJson(["-c", "den", "-p", pid]);
    assert.ok(byCommand.length > 20);
    assert.deepEqual(byCommand.slice(0, 3).map((r) => r.fd), ["cwd", "rtd", "txt"]);
    assert.deepEqual(await fdsJson(["-c", "nosuchcommand", "-p", pid]), []);
    assert.deepEqual(await fdsJson(["--path", holder.paths.read, "-p", String(holder.child)]), []);
    // Another hard link names the same file: found by device and inode, as lsof finds it.
    const link = `${holder.paths.read}.link`;
    Deno.linkSync(holder.paths.read, link);
    try {
      const linked = await fdsJson(["--path", link]);
      assert.deepEqual(linked.map((r) => [r.pid, r.fd, r.name]), [[
        holder.pid,
        String(holder.fds.read),
        holder.paths.read,
      ]]);
    } finally {
      Deno.removeSync(link);
    }
  },
);

holderTest(
  "opsd fds: --tcp, --udp and --listen narrow what --port and --unix name, and alone keep every such socket",
  async (holder) => {
    const pid = String(holder.pid);
    const { tcp4, tcp6, dualStack, udp, leaky } = holder.ports;
    const names = async (args: string[]) =>
      (await fdsJson(args)).filter((r) => r.pid === holder.pid).map((r) => `${r.type} ${r.name}`)
        .sort();
    const unixListener = `unix ${holder.unixPath} type=STREAM (LISTEN)`;
    // --listen narrows --unix: its listener, and no TCP or UDP listener of anybody's.
    const unix = await fdsJson(["--unix", holder.unixPath, "--listen"]);
    assert.deepEqual(unix.map((r) => `${r.pid} ${r.type} ${r.name}`), [
      `${holder.pid} ${unixListener}`,
    ]);
    // Files named widen each other; the filters narrow them all.
    assert.deepEqual(await names(["--port", String(tcp4), "--unix", holder.unixPath]), [
      `IPv4 127.0.0.1:${tcp4} (LISTEN)`,
      unixListener,
    ]);
    assert.deepEqual(
      await names([
        "--port",
        String(udp),
        "--port",
        String(tcp4),
        "--udp",
      ]),
      [`IPv4 127.0.0.1:${udp}`, `IPv4 127.0.0.1:${udp}`],
    );
    // Alone (with a process selector), every socket of the kind: no file, no connection.
    assert.deepEqual(
      await names(["-p", pid, "--listen"]),
      [
        `IPv4 127.0.0.1:${leaky} (LISTEN)`,
        `IPv4 127.0.0.1:${tcp4} (LISTEN)`,
        `IPv4 127.0.0.1:${udp}`,
        `IPv4 127.0.0.1:${udp}`,
        `IPv6 *:${dualStack} (LISTEN)`,
        `IPv6 *:${tcp6} (LISTEN)`,
        unixListener,
      ].sort(),
    );
    const tcp = await names(["-p", pid, "--tcp"]);
    // Three listeners, the leaky one, and both ends of the connection: TCP has a state.
    assert.ok(tcp.length >= 6, tcp.join("\n"));
    for (const name of tcp) assert.match(name, /^IPv[46] .*\((LISTEN|ESTABLISHED)\)$/);
    assert.deepEqual(await names(["-p", pid, "--listen", "--udp"]), [
      `IPv4 127.0.0.1:${udp}`,
      `IPv4 127.0.0.1:${udp}`,
    ]);
    // A file is no socket, a unix socket neither TCP nor UDP: said at once, not an empty answer.
    for (
      const args of [
        ["--path", holder.paths.read, "--tcp"],
        ["--path", holder.paths.read, "--listen"],
        ["--unix", holder.unixPath, "--udp"],
        ["--path", holder.paths.read, "--unix", holder.unixPath, "--tcp"],
      ]
    ) {
      const run = await runOpsd(["fds", ...args]);
      assert.deepEqual([run.code, run.stdout], [2, ""], args.join(" "));
      assert.match(
        run.stderr,
        /^opsd fds: --(path|unix|path and --unix) never match(es)? with --\w+: .*\(see 'opsd fds --help'\)\n$/,
      );
    }
    // Refused only when nothing named could pass: a port passes --tcp, a unix socket --listen.
    assert.deepEqual(
      await names(["--port", String(tcp4), "--unix", holder.unixPath, "--tcp"]),
      [`IPv4 127.0.0.1:${tcp4} (LISTEN)`],
    );
    assert.deepEqual(
      await names(["--path", holder.paths.read, "--port", String(udp), "--udp"]),
      [`IPv4 127.0.0.1:${udp}`, `IPv4 127.0.0.1:${udp}`],
    );
    assert.deepEqual(
      await names(["--path", holder.paths.read, "--unix", holder.unixPath, "--listen"]),
      [unixListener],
    );
  },
);

holderTest(
  "opsd fds exits 0 when something matched, 1 when nothing did, and -q prints nothing",
  async (holder) => {
    const listening = await runOpsd(["fds", "-q", "--port", String(holder.ports.tcp4)]);
    assert.deepEqual([listening.code, listening.stdout, listening.stderr], [0, "", ""]);
    const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const unused = (free.addr as Deno.NetAddr).port;
    free.close();
    const nobody = await runOpsd(["fds", "-q", "--tcp", "--port", String(unused)]);
    assert.deepEqual([nobody.code, nobody.stdout, nobody.stderr], [1, "", ""]);
    const table = await runOpsd(["fds", "--tcp", "--port", String(unused)]);
    assert.deepEqual([table.code, table.stdout], [1, ""]);
    const gone = await runOpsd(["fds", "-p", String(2 ** 22 + 12345)]);
    assert.deepEqual([gone.code, gone.stdout], [1, ""]);
    assert.equal(gone.stderr, `opsd fds: no such process: ${2 ** 22 + 12345}\n`);
    const human = await runOpsd([
      "fds",
      "-p",
      String(holder.pid),
      "--port",
      String(holder.ports.tcp4),
    ]);
    assert.equal(human.code, 0);
    const [header, line] = human.stdout.trim().split("\n");
    assert.match(header, /^COMMAND +PID USER +FD +TYPE CLOEXEC +DEVICE SIZE\/OFF +NODE NAME$/);
    assert.match(
      line,
      new RegExp(`^deno +${holder.pid} \\S+ +\\d+u +IPv4 yes +\\d+ +0t0 +TCP 127\\.0\\.0\\.1:`),
    );
  },
);

holderTest(
  "opsd fds says why nothing matched: a path that names no file, a thread id that is no process",
  async (holder, dir) => {
    const nowhere = `${dir}/no such.txt`;
    const missing = await runOpsd(["fds", "--path", nowhere]);
    assert.deepEqual([missing.code, missing.stdout], [1, ""]);
    assert.equal(withoutRootNote(missing.stderr), `opsd fds: no such file: ${nowhere}\n`);
    const quiet = await runOpsd(["fds", "-q", "--path", nowhere]);
    assert.deepEqual([quiet.code, quiet.stdout, withoutRootNote(quiet.stderr)], [1, "", ""]);
    // --unix naming no file, or a file that is no socket, says so too (a typo, or --path meant).
    const noSocket = await runOpsd(["fds", "--unix", nowhere, "--unix", holder.paths.read]);
    assert.deepEqual([noSocket.code, noSocket.stdout, withoutRootNote(noSocket.stderr)], [
      1,
      "",
      `opsd fds: no such file: ${nowhere}\n` +
      `opsd fds: ${holder.paths.read} is no unix socket: for other files use --path\n`,
    ]);
    const bound = await runOpsd(["fds", "--unix", holder.unixPath, "--unix", nowhere]);
    assert.deepEqual([bound.code, withoutRootNote(bound.stderr)], [0, ""]);
    // A removed file still open matches by name: no note then.
    const deleted = await runOpsd(["fds", "--path", holder.paths.deleted, "--path", nowhere]);
    assert.equal(deleted.code, 0);
    assert.equal(withoutRootNote(deleted.stderr), `opsd fds: no such file: ${nowhere}\n`);
    // /proc answers for a thread id too, but a thread is no process (lsof shows nothing).
    const tid = [...Deno.readDirSync(`/proc/${holder.pid}/task`)].map((entry) => Number(entry.name))
      .find((id) => id !== holder.pid)!;
    const thread = await runOpsd(["fds", "--pid", String(tid)]);
    assert.deepEqual([thread.code, thread.stdout], [1, ""]);
    assert.equal(
      thread.stderr,
      `opsd fds: ${tid} is a thread of process ${holder.pid}, not a process: use --pid ${holder.pid}\n`,
    );
    // Beside a process, it is left out.
    const rows = (await runOpsd(["fds", "--json", "-p", String(tid), "-p", String(holder.pid)]))
      .stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual([...new Set(rows.map((row) => row.pid))], [holder.pid]);
  },
);

sanitizedTest(
  "opsd fds --pid says so when the pid is no process, or a zombie that holds no fds",
  async () => {
    // sleep, exec'd by sh, never reaps the child sh started before: a zombie until sleep dies.
    const parent = new Deno.Command("sh", { args: ["-c", "true & exec sleep 1000"] }).spawn();
    try {
      const children = () =>
        Deno.readTextFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`).trim();
      await waitFor("the zombie", () => {
        const child = Number(children());
        return child > 0 && readProcStat(child)?.state === "Z";
      });
      const zombie = Number(children());
      const run = await runOpsd(["fds", "-p", String(zombie)]);
      assert.deepEqual([run.code, run.stdout], [1, ""]);
      assert.equal(
        run.stderr,
        `opsd fds: ${zombie} is a zombie: it exited and holds no fds; its parent ${parent.pid} has not reaped it\n`,
      );
      // A pid of no process: pid_max is at most 2^22, and --pid takes up to 2^31 - 1.
      const missing = await runOpsd(["fds", "-p", String(2 ** 31 - 1)]);
      assert.deepEqual([missing.code, missing.stdout], [1, ""]);
      assert.equal(missing.stderr, `opsd fds: no such process: ${2 ** 31 - 1}\n`);
      const quiet = await runOpsd(["fds", "-q", "-p", String(zombie), "-p", String(2 ** 31 - 1)]);
      assert.deepEqual([quiet.code, quiet.stdout, quiet.stderr], [1, "", ""]);
    } finally {
      parent.kill("SIGKILL");
      await parent.status;
    }
  },
);

const HAS_PYTHON = new Deno.Command("sh", { args: ["-c", "command -v python3"] }).outputSync()
  .success;

sanitizedTest(
  "opsd fds --pid of a process whose main thread exited while others run says so, not that it is a zombie",
  async () => {
    // The main thread leaves with pthread_exit; the other sleeps on. /proc/PID/fd is then empty.
    const script = "import ctypes, threading, time\n" +
      "threading.Thread(target=lambda: time.sleep(1000)).start()\n" +
      "ctypes.CDLL(None).pthread_exit(None)\n";
    const child = new Deno.Command("python3", { args: ["-c", script], stdin: "null" }).spawn();
    try {
      await waitFor("the main thread to exit", () => readProcStat(child.pid)?.state === "Z");
      const run = await runOpsd(["fds", "-p", String(child.pid)]);
      assert.deepEqual([run.code, run.stdout], [1, ""]);
      assert.equal(
        run.stderr,
        `opsd fds: ${child.pid}'s main thread exited; its 1 other thread(s) run on, and their fds are not listed (see /proc/${child.pid}/task/*/fd)\n`,
      );
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  },
  { ignore: !HAS_PYTHON },
);

sanitizedTest(
  "opsd fds -c with a whole program name longer than the kernel's 15 bytes finds the program, and a script by its name",
  async () => {
    await using dir = await tempDir();
    // Unique in their first 15 bytes, which the kernel keeps: no other process shares them.
    const tag = String(Math.floor(Math.random() * 1e6)).padStart(6, "0");
    const long = `fdst${tag}longprogram`;
    const program = `${dir.path}/${long}`;
    Deno.symlinkSync(SLEEP, program);
    await using sleeper = await startSleeper({ program });
    const script = `${dir.path}/fdss${tag}service-runner.sh`;
    Deno.writeTextFileSync(script, "#!/bin/sh\nread -r line\n", { mode: 0o755 });
    const shell = new Deno.Command(script, { stdin: "piped", stdout: "null" }).spawn();
    try {
      await waitFor(
        "the script to start",
        () => readProcStat(shell.pid)?.comm === `fdss${tag}servi`,
      );
      const pids = async (
        name: string,
      ) => [...new Set((await fdsJson(["-c", name])).map((row) => row.pid))];
      assert.deepEqual(await pids(long), [sleeper.pid]);
      assert.deepEqual(await pids(long.slice(0, 17)), [sleeper.pid]);
      assert.deepEqual(await pids(`${long}X`), []);
      assert.deepEqual(await pids(`fdss${tag}service-runner`), [shell.pid]);
      assert.deepEqual(await pids(`fdss${tag}service-walker`), []);
      // A kernel thread's name is whole (workqueue workers' run past 15 bytes): it matches as it is.
      const kthread = [...Deno.readDirSync("/proc")].map((entry) => Number(entry.name))
        .find((pid) => pid > 0 && (readProcStat(pid)?.comm.length ?? 0) > 15);
      if (kthread !== undefined) {
        const name = readProcStat(kthread)!.comm;
        assert.ok((await pids(name)).includes(kthread), name);
      }
    } finally {
      await shell.stdin.close();
      await shell.status;
    }
  },
);

sanitizedTest(
  "opsd fds --listen keeps a unix datagram socket bound to a path and connected to none (a /dev/log), clients connected or not",
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/log.sock`;
    const server = socket(SOCK.AF_UNIX, SOCK.DGRAM | SOCK.CLOEXEC);
    const client = socket(SOCK.AF_UNIX, SOCK.DGRAM | SOCK.CLOEXEC);
    try {
      bind(server, { family: "unix", path });
      const fds = async (args: string[]) =>
        (await fdsJson(args)).map((row) => [row.pid, row.fd, row.name]);
      const listener = (
        state: string,
      ) => [Deno.pid, String(server), `${path} type=DGRAM (${state})`];
      assert.deepEqual(await fds(["--unix", path, "--listen"]), [listener("UNCONNECTED")]);
      // Once a client connects, the kernel calls the server CONNECTED too (ss -l leaves it
      // out), but it has no peer: still the listener.
      connect(client, { family: "unix", path });
      assert.deepEqual(await fds(["--unix", path, "--listen"]), [listener("CONNECTED")]);
      // The client has a peer: no listener, though it is a unix socket of this process.
      const mine = await fds(["--listen", "-p", String(Deno.pid)]);
      assert.ok(mine.some((row) => row[1] === String(server)), JSON.stringify(mine));
      assert.ok(!mine.some((row) => row[1] === String(client)), JSON.stringify(mine));
      const all = await fds(["-p", String(Deno.pid)]);
      assert.deepEqual(all.find((row) => row[1] === String(client))?.[2], "type=DGRAM (CONNECTED)");
    } finally {
      close(client);
      close(server);
    }
  },
);

/** The dynamic loader Deno runs under (it maps a program it is given); null where there is none. */
const LOADER = /\s(\/\S*\/ld-(?:linux|musl)\S*\.so\S*)$/m.exec(
  Deno.readTextFileSync("/proc/self/maps"),
)?.[1] ?? null;

sanitizedTest(
  "opsd fds --path finds a file mapped without an fd (mem, as lsof shows it), and removed (DEL)",
  async () => {
    await using dir = await tempDir();
    // The loader maps the program it runs and closes its fd: the program is a mem row only.
    const program = `${dir.path}/mapped prog`;
    Deno.copyFileSync(SLEEP, program);
    const child = new Deno.Command(LOADER!, { args: [program, "1000"], stdin: "null" }).spawn();
    try {
      // Once libc is mapped, the loader has closed its fd on the program.
      await waitFor("the program and libc to be mapped", () => {
        const maps = Deno.readTextFileSync(`/proc/${child.pid}/maps`);
        return maps.includes(` ${program}\n`) && /\/libc[.-]/.test(maps);
      });
      const { ino, size } = Deno.statSync(program);
      const rows = (await fdsJson(["--path", program])).map((
        row,
      ) => [row.pid, row.fd, row.type, row.node, row.sizeOff, row.name]);
      assert.deepEqual(rows, [[child.pid, "mem", "REG", String(ino), String(size), program]]);
      if (HAS_LSOF) {
        const lsof = await new Deno.Command("lsof", { args: ["-nP", "-w", "-Fpf", program] })
          .output();
        assert.equal(new TextDecoder().decode(lsof.stdout), `p${child.pid}\nfmem\n`);
      }
      // Removed, the mapping stays: DEL, no size, the name without (deleted), as lsof shows it.
      Deno.removeSync(program);
      const deleted = await runOpsd(["fds", "--json", "--path", program]);
      assert.equal(deleted.code, 0, deleted.stderr);
      const [row] = deleted.stdout.trim().split("\n").map((line) => JSON.parse(line));
      assert.deepEqual([row.pid, row.fd, row.sizeOff, row.name], [child.pid, "DEL", "", program]);
      // A process listing still shows no mapped files (documented).
      const listing = await fdsJson(["-p", String(child.pid)]);
      assert.ok(listing.every((r) => r.fd !== "mem" && r.fd !== "DEL"), JSON.stringify(listing));
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  },
  { ignore: LOADER === null },
);

sanitizedTest(
  "opsd fds --path: a mem row is the file by device and inode, not by name (a bind mount elsewhere)",
  async () => {
    await using dir = await tempDir();
    // In its own mount namespace, a process maps `other`, bind-mounted over `shown`.
    const shown = `${dir.path}/shown`, other = `${dir.path}/other`;
    Deno.copyFileSync(SLEEP, shown);
    Deno.copyFileSync(SLEEP, other);
    const script = 'mount --bind "$1" "$2" && exec "$3" "$2" 1000';
    const child = new Deno.Command("unshare", {
      args: ["-m", "--propagation", "private", "sh", "-c", script, "sh", other, shown, LOADER!],
      stdin: "null",
    }).spawn();
    try {
      await waitFor("the program to be mapped", () => {
        const maps = Deno.readTextFileSync(`/proc/${child.pid}/maps`);
        return maps.includes(` ${shown}\n`) && /\/libc[.-]/.test(maps);
      });
      // Its maps name `shown`, but the file mapped is `other`.
      const byName = await runOpsd(["fds", "--json", "-p", String(child.pid), "--path", shown]);
      assert.deepEqual([byName.code, byName.stdout], [1, ""], byName.stderr);
      const rows = (await fdsJson(["-p", String(child.pid), "--path", other])).map((row) => [
        row.fd,
        row.node,
        row.name,
      ]);
      assert.deepEqual(rows, [["mem", String(Deno.statSync(other).ino), shown]]);
      for (const [path, code] of [[other, 0], [shown, 1]] as const) {
        const quiet = await runOpsd(["fds", "-q", "-p", String(child.pid), "--path", path]);
        assert.deepEqual([quiet.code, quiet.stdout], [code, ""], `${path}: ${quiet.stderr}`);
      }
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  },
  { ignore: LOADER === null || !CAN_UNSHARE_MOUNT },
);

Deno.test("opsd fds: a bad port, pid or flag is a usage error (exit 2, one line, no trace)", async () => {
  for (
    const args of [
      ["--port", "0"],
      ["--port", "70000"],
      ["--port", "http"],
      ["--port", "90-80"],
      [
        "--port",
        "1-2-3",
      ],
      ["--port", "0-80"],
      ["-p", "-1"],
      [
        "--pid",
        "x",
      ],
      [
        "--bogus",
      ],
      ["--leak-age", "soon", "--leaks"],
    ]
  ) {
    const run = await runOpsd(["fds", ...args]);
    assert.equal(run.code, 2, args.join(" "));
    assert.equal(run.stdout, "");
    assert.ok(!run.stderr.includes("    at "), run.stderr);
    assert.match(run.stderr.split("\n")[0], /^opsd fds: /);
  }
});

Deno.test("opsd fds: an empty --path, --unix or -c is a usage error, not a match of everything", async () => {
  for (
    const args of [["--path", ""], ["--unix", ""], ["-c", ""], ["--path", "/", "--path", ""], [""]]
  ) {
    const run = await runOpsd(["fds", ...args]);
    assert.deepEqual([run.code, run.stdout], [2, ""], args.join(" "));
    assert.match(
      run.stderr,
      /^opsd fds: .*not an empty string \(an unset variable\?\) \(see 'opsd fds --help'\)\n$/,
    );
  }
});

Deno.test("opsd fds --leak-age without --leaks is a usage error, not silently ignored", async () => {
  const run = await runOpsd(["fds", "--leak-age", "10s"]);
  assert.deepEqual([run.code, run.stdout], [2, ""]);
  assert.match(
    run.stderr,
    /^opsd fds: --leak-age needs --leaks: add --leaks to look for leaked sockets \(see 'opsd fds --help'\)\n$/,
  );
  const leaks = await runOpsd(["fds", "--leaks", "--leak-age", "10s", "-p", String(Deno.pid)]);
  assert.equal(leaks.stderr, "");
  assert.ok(leaks.code === 0 || leaks.code === 1);
});

Deno.test("opsd fds --all-netns where it changes nothing is a usage error, not silently ignored", async () => {
  const needs =
    /^opsd fds: --all-netns needs --port, --listen or --unix: .*\(see 'opsd fds --help'\)\n$/;
  for (const args of [[], ["--tcp"], ["--udp"], ["-p", String(Deno.pid)], ["--path", "/"]]) {
    const run = await runOpsd(["fds", "--all-netns", ...args]);
    assert.deepEqual([run.code, run.stdout], [2, ""], args.join(" "));
    assert.match(run.stderr, needs, args.join(" "));
  }
  const leaks = await runOpsd(["fds", "--all-netns", "--leaks", "--port", "1"]);
  assert.deepEqual([leaks.code, leaks.stdout], [2, ""]);
  assert.match(leaks.stderr, /^opsd fds: --all-netns does nothing with --leaks: /);
  // With an address query it counts: accepted.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = String((listener.addr as Deno.NetAddr).port);
  for (const args of [["--port", port], ["--listen", "--tcp"], ["--unix", "/nonexistent"]]) {
    const run = await runOpsd(["fds", "-q", "--all-netns", ...args]);
    assert.deepEqual(
      [run.code, withoutRootNote(run.stderr)],
      [args[0] === "--unix" ? 1 : 0, ""],
      args.join(" "),
    );
  }
});

holderTest(
  "opsd fds --json: one object per fd with the table's fields, socket details included",
  async (holder) => {
    const [row] = await fdsJson(["--port", String(holder.ports.tcp4), "-p", String(holder.pid)]);
    assert.deepEqual(Object.keys(row).sort(), [
      "cloexec",
      "command",
      "device",
      "fd",
      "lock",
      "mode",
      "name",
      "netns",
      "node",
      "pid",
      "sizeOff",
      "socket",
      "type",
      "uid",
      "user",
    ]);
    assert.deepEqual(row.socket, {
      kind: "inet",
      protocol: "tcp",
      family: "ipv4",
      localAddress: "127.0.0.1",
      localPort: holder.ports.tcp4,
      remoteAddress: "0.0.0.0",
      remotePort: 0,
      state: "LISTEN",
      inode: Number(row.device),
    });
    assert.equal(row.netns, null, "a socket of opsd's own network namespace");
  },
);

holderTest(
  "opsd fds --leaks points at a duplicated socket, an inherited listener and missing close-on-exec",
  async (holder) => {
    const scope = ["-p", String(holder.pid), "-p", String(holder.child)];
    const rows = await fdsJson(["--leaks", "--leak-age", "0", ...scope]);
    const found = rows.map((r) => [r.pid, r.fd, r.leaks!.map((l) => l.kind)]);
    const expected: [number, string, string[]][] = [
      [holder.pid, String(holder.fds.udpDup), ["duplicate", "no-cloexec"]],
      [holder.pid, String(holder.fds.leaky), ["no-cloexec"]],
      [holder.child, "3", ["inherited-listener", "no-cloexec"]],
    ];
    assert.deepEqual(found, expected.sort(inRowOrder));
    const human = await runOpsd(["fds", "--leaks", ...scope]);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /\n {2}why: listening socket also held by parent \d+ \(deno\)/);
    const young = await runOpsd([
      "fds",
      "--leaks",
      "-p",
      String(holder.pid),
      "--port",
      String(holder.ports.tcp4),
    ]);
    assert.deepEqual([young.code, young.stdout], [1, ""]);
  },
);

Deno.test({
  name: "opsd fds survives processes exiting mid-scan (never a crash or a trace)",
  sanitizeResources: true,
  sanitizeOps: true,
  async fn() {
    const churn = new Deno.Command("sh", {
      args: ["-c", "while :; do /bin/true & /bin/true; done"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      for (const args of [[], ["--leaks"], ["--tcp"]]) {
        const run = await runOpsd(["fds", ...args]);
        assert.ok(run.code === 0 || run.code === 1, `${args}: ${run.stderr}`);
        assert.equal(withoutRootNote(run.stderr), "", args.join(" "));
      }
    } finally {
      churn.kill("SIGKILL");
      await churn.status;
    }
  },
});

/** Asserts that `table` is one row: root's listener on 127.0.0.1:`port`, holder unknown. */
function assertUnheldTable(table: string, port: number): void {
  const lines = table.trim().split("\n").slice(1).map((l) => l.replace(/ +/g, " "));
  assert.equal(lines.length, 1, table);
  assert.match(
    lines[0],
    new RegExp(`^\\? \\? root \\? IPv4 \\d+ TCP 127\\.0\\.0\\.1:${port} \\(LISTEN\\)$`),
  );
}

/** Runs `opsd fds ARGS` as some user, with extra environment variables `env`. */
type FdsRunner = (args: string[], env?: Record<string, string>) => Promise<OpsdRun>;

/**
 * Bundles opsd into a home directory for `user` (a name or a uid) in `dir`,
 * owned by `uid` and `gid`, and returns a runner of `opsd fds` as that user.
 */
async function bundledFdsAs(
  dir: string,
  user: string,
  uid: number,
  gid: number,
): Promise<FdsRunner> {
  const home = `${dir}/home-${user}`;
  Deno.mkdirSync(home);
  const bundle = await bundleOpsd(home);
  Deno.chmodSync(dir, 0o755);
  Deno.chownSync(home, uid, gid);
  return (args, env = {}) =>
    runOpsd([
      "exec",
      "--user",
      user,
      "--",
      "env",
      `HOME=${home}`,
      `DENO_DIR=${home}/cache`,
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Deno.execPath(),
      "run",
      "-A",
      bundle,
      "fds",
      ...args,
    ]);
}

holderTest(
  "the bundle, run as another user, shows NOFD rows as lsof does, root's listener with its holder unknown, and counts what it skipped",
  async (holder, dir) => {
    const asNobody = await bundledFdsAs(dir, "nobody", NOBODY![0], NOBODY![1]);
    const listing = await asNobody(["-p", String(holder.pid)]);
    assert.equal(listing.code, 0, listing.stderr);
    const lines = listing.stdout.trim().split("\n").slice(1).map((l) => l.replace(/ +/g, " "));
    assert.deepEqual(lines, [
      `deno ${holder.pid} root cwd unknown /proc/${holder.pid}/cwd (readlink: Permission denied)`,
      `deno ${holder.pid} root rtd unknown /proc/${holder.pid}/root (readlink: Permission denied)`,
      `deno ${holder.pid} root txt unknown /proc/${holder.pid}/exe (readlink: Permission denied)`,
      `deno ${holder.pid} root NOFD /proc/${holder.pid}/fd (opendir: Permission denied)`,
    ]);
    // A port query cannot see into root's processes, but root's listener is in the socket
    // tables: it shows with the holder unknown and the socket's owner, and says why.
    const tcp4 = String(holder.ports.tcp4);
    const port = await asNobody(["--port", tcp4], { OPSD_FDS_WORKERS: "1" });
    assert.equal(port.code, 0, port.stderr);
    assertUnheldTable(port.stdout, holder.ports.tcp4);
    assert.match(
      port.stderr,
      /^opsd fds: \d+ process\(es\) could not be inspected \(permission denied\): run as root to see who holds the sockets shown with PID \?\n$/,
    );
    const quiet = await asNobody(["-q", "--port", tcp4]);
    assert.deepEqual([quiet.code, quiet.stdout, quiet.stderr], [0, "", ""]);
    const json = await asNobody(["--json", "--listen", "--tcp", "--port", tcp4]);
    assert.equal(json.code, 0, json.stderr);
    const [row, ...more] = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(more, []);
    assert.deepEqual(
      [row.command, row.pid, row.fd, row.user, row.uid, row.type, row.name, row.socket.state],
      [null, null, null, "root", 0, "IPv4", `127.0.0.1:${tcp4} (LISTEN)`, "LISTEN"],
    );
    assert.equal(row.socket.inode, Number(row.device));
    assert.match(json.stderr, /run as root to see who holds the sockets shown with pid null\n$/);
    // A holder that is unknown is not a selected process; a port with no socket is free.
    const selected = await asNobody(["--port", tcp4, "-p", String(holder.pid)]);
    assert.deepEqual([selected.code, selected.stdout], [1, ""]);
    assert.match(selected.stderr, /run as root to include them\n$/);
    const free = await asNobody(["--port", String(freePort())]);
    assert.deepEqual([free.code, free.stdout, free.stderr], [1, "", ""]);
  },
  { ignore: !IS_ROOT || NOBODY === null },
);

Deno.test({
  name:
    "opsd fds --unix, run as another user, shows a unix socket of nobody's with its holder unknown and nobody as USER",
  ignore: !IS_ROOT || NOBODY === null,
  sanitizeResources: true,
  sanitizeOps: true,
  async fn() {
    await using dir = await tempDir();
    const run = `${dir.path}/run`, path = `${run}/app.sock`, name = `opsd-test-${Deno.pid}`;
    Deno.mkdirSync(run);
    Deno.chownSync(run, NOBODY![0], NOBODY![1]);
    Deno.chmodSync(dir.path, 0o755);
    // A listener on a path and one on an abstract name, both bound by nobody.
    const script = `Deno.listen({ transport: "unix", path: ${JSON.stringify(path)} });
      Deno.listen({ transport: "unix", path: "\\0${name}" });
      console.log("ready");
      setInterval(() => {}, 1 << 30);`;
    const [program, ...args] = opsdArgv([
      ...["exec", "--user", "nobody", "--", "env", `DENO_DIR=${run}/cache`],
      ...[Deno.execPath(), "eval", script],
    ]);
    const child = new Deno.Command(program, { args, stdout: "piped" }).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      assert.equal((await reader.read()).value, "ready\n");
      await reader.cancel();
      // Root sees the holder; another user, the socket's owner alone.
      const asRoot = await fdsJson(["--unix", path]);
      assert.deepEqual(asRoot.map((r) => [r.pid, r.user, r.fd === null]), [[
        child.pid,
        "nobody",
        false,
      ]]);
      // A user who may inspect neither root's processes nor nobody's (uid 65533, say).
      const other = NOBODY![0] - 1;
      const asOther = await bundledFdsAs(dir.path, String(other), other, other);
      const table = await asOther(["--unix", path]);
      assert.equal(table.code, 0, table.stderr);
      const lines = table.stdout.trim().split("\n").slice(1).map((l) => l.replace(/ +/g, " "));
      assert.deepEqual(lines.map((l) => l.replace(/ 0x[0-9a-f]+ /, " 0x… ")), [
        `? ? nobody ? unix 0x… ${asRoot[0].node} ${path} type=STREAM (LISTEN)`,
      ]);
      assert.match(table.stderr, /run as root to see who holds the sockets shown with PID \?\n$/);
      const json = await asOther(["--json", "--unix", `@${name}`]);
      assert.equal(json.code, 0, json.stderr);
      const [row, ...more] = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(more, []);
      assert.deepEqual(
        [row.command, row.pid, row.fd, row.user, row.uid, row.type, row.socket.path],
        [null, null, null, "nobody", NOBODY![0], "unix", `@${name}`],
      );
      const quiet = await asOther(["-q", "--unix", path]);
      assert.deepEqual([quiet.code, quiet.stdout, quiet.stderr], [0, "", ""]);
      // An unknown holder is not a selected process; a path nothing is bound to is free
      // (stderr says it names no file, as for --path; -q says nothing).
      const selected = await asOther(["--unix", path, "-p", String(child.pid)]);
      assert.deepEqual([selected.code, selected.stdout], [1, ""]);
      const free = await asOther(["--unix", `${run}/free.sock`]);
      assert.deepEqual([free.code, free.stdout, free.stderr], [
        1,
        "",
        `opsd fds: no such file: ${run}/free.sock\n`,
      ]);
      const freeQuiet = await asOther(["-q", "--unix", `${run}/free.sock`]);
      assert.deepEqual([freeQuiet.code, freeQuiet.stdout, freeQuiet.stderr], [1, "", ""]);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* gone already */ }
      await child.status;
    }
  },
});

holderTest(
  "opsd fds in another pid namespace (a container) shows a port held outside it, holder unknown",
  async (holder) => {
    // Root all the same, but /proc holds only the new namespace's processes: none is the holder.
    const [program, ...args] = opsdArgv(["fds", "--port", String(holder.ports.tcp4)]);
    const run = await new Deno.Command("unshare", {
      args: ["--pid", "--fork", "--mount-proc", program, ...args],
    }).output();
    const [stdout, stderr] = [run.stdout, run.stderr].map((b) => new TextDecoder().decode(b));
    assert.deepEqual([run.code, stderr], [0, ""]);
    assertUnheldTable(stdout, holder.ports.tcp4);
  },
  { ignore: !CAN_UNSHARE_PID },
);

holderTest("the bundle walks with a Worker and finds a listener", async (holder, dir) => {
  const bundle = await bundleOpsd(`${dir}/bundle`);
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", bundle, "fds", "--json", "--port", String(holder.ports.tcp4)],
    env: { OPSD_FDS_WORKERS: "1" },
  }).output();
  assert.equal(withoutRootNote(new TextDecoder().decode(run.stderr)), "");
  const rows = new TextDecoder().decode(run.stdout).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => [r.pid, r.fd]), [[holder.pid, String(holder.fds.tcp4)]]);
});

holderTest(
  "opsd fds finds sockets of processes in another network namespace, marked with it; a port query answers for opsd's own",
  async (holder) => {
    const netns = Number(/\d+/.exec(Deno.readLinkSync(`/proc/${holder.pid}/ns/net`)));
    const port = String(holder.ports.tcp4);
    // Our namespace has a port space of its own: the holder's port is free here.
    const free = Deno.listen({ hostname: "127.0.0.1", port: holder.ports.tcp4 });
    free.close();
    // Listed, named from the holder's tables and marked; but the port is not taken here.
    const json = await runOpsd(["fds", "--json", "--port", port, "--listen", "--tcp"]);
    assert.equal(json.code, 1, json.stderr);
    assert.match(
      withoutRootNote(json.stderr),
      /^opsd fds: the sockets shown are in other network namespaces: not taken in this one \(exit 1; --all-netns counts them\)\n$/,
    );
    const rows = json.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(rows.map((r) => [r.pid, r.fd, r.name, r.netns]), [
      [holder.pid, String(holder.fds.tcp4), `127.0.0.1:${port} (LISTEN)`, netns],
    ]);
    const table = await runOpsd(["fds", "--port", port, "--listen", "--tcp"]);
    assert.match(
      table.stdout,
      new RegExp(` 127\\.0\\.0\\.1:${port} \\(LISTEN\\) \\(netns ${netns}\\)\n$`),
    );
    for (const args of [["-q", "--port", port], ["-q", "--listen", "--port", port]]) {
      const quiet = await runOpsd(["fds", ...args]);
      assert.deepEqual([quiet.code, quiet.stdout, withoutRootNote(quiet.stderr)], [1, "", ""]);
      const all = await runOpsd(["fds", "--all-netns", ...args]);
      assert.deepEqual([all.code, all.stdout, all.stderr], [0, "", ""]);
    }
    // Taken here too: then the answer is yes.
    using listener = Deno.listen({ hostname: "127.0.0.1", port: holder.ports.tcp4 });
    const taken = await runOpsd(["fds", "-q", "--port", port]);
    assert.deepEqual([taken.code, taken.stdout, taken.stderr], [0, "", ""]);
    assert.ok(listener);
    // A listing of the holder: every socket row is marked, files are not.
    const listing = await fdsJson(["-p", String(holder.pid)]);
    const udp = listing.find((r) => r.fd === String(holder.fds.udp));
    assert.deepEqual([udp?.name, udp?.netns], [`127.0.0.1:${holder.ports.udp}`, netns]);
    const read = listing.find((r) => r.fd === String(holder.fds.read));
    assert.equal(read?.netns, null);
  },
  { ignore: !CAN_UNSHARE_NET, wrapper: IN_OTHER_NETNS },
);

Deno.test({
  name: "opsd fds escapes control characters in COMMAND and NAME as lsof does; --json stays raw",
  sanitizeResources: true,
  sanitizeOps: true,
  async fn() {
    await using dir = await tempDir();
    const command = "we ird\nx\x1b[31m";
    const program = `${dir.path}/${command}`;
    Deno.symlinkSync(SLEEP, program);
    const names = ["esc\x1b[31mred\ttab.txt", "new\nline.txt", "back\\slash.txt"];
    const files = names.map((name) => `${dir.path}/${name}`);
    for (const file of files) Deno.writeTextFileSync(file, "");
    await using sleeper = await startSleeper({ program, files });
    const pid = String(sleeper.pid);
    const run = await runOpsd(["fds", "-p", pid]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!run.stdout.includes("\x1b"), "no escape sequence reaches the terminal");
    const json = await fdsJson(["-p", pid]);
    // One line per row: none is broken by a newline in a name.
    const lines = run.stdout.trim().split("\n").slice(1);
    assert.equal(lines.length, json.length, run.stdout);
    for (const line of lines) assert.ok(line.startsWith(`we\\x20ird\\nx^[[31m ${pid} `), line);
    const escaped = [
      "esc^[[31mred\\ttab.txt",
      "new\\nline.txt",
      "back\\\\slash.txt",
    ].map((name) => `${dir.path}/${name}`);
    const named = lines.filter((line) => / [345]r +REG /.test(line));
    assert.deepEqual(named.map((line) => line.slice(line.indexOf(` ${dir.path}/`) + 1)), escaped);
    assert.deepEqual([...new Set(json.map((row) => row.command))], [command]);
    assert.deepEqual(
      json.filter((row) => ["3", "4", "5"].includes(row.fd!)).map((row) => row.name),
      files,
    );
    if (HAS_LSOF) {
      const lsof = await new Deno.Command("lsof", { args: ["+c0", "-nP", "-w", "-p", pid] })
        .output();
      const text = new TextDecoder().decode(lsof.stdout);
      assert.ok(text.includes(`\nwe\\x20ird\\nx^[[31m ${pid} `), text);
      for (const name of escaped) assert.ok(text.includes(` ${name}\n`), `lsof: ${name}`);
    }
  },
});

sanitizedTest(
  "opsd fds names a unix socket path holding a newline exactly (--json raw, the table escaped), in a listing, with --unix and --path, and believes no line it forges in /proc/net/unix, for a socket's inode or one nobody has",
  async () => {
    await using dir = await tempDir();
    const fds: number[] = [];
    /** What a listing of this process shows for each socket bound here: fd, name and path. */
    const bound: [string, string, string][] = [];
    const listening = (path: string) => {
      const fd = socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.CLOEXEC);
      fds.push(fd);
      bind(fd, { family: "unix", path });
      listen(fd);
      bound.push([String(fd), `${path} type=STREAM (LISTEN)`, path]);
      return fd;
    };
    const unixPath = (row: JsonRow) => row.socket?.kind === "unix" ? row.socket.path : null;
    const ours = (rows: JsonRow[]) =>
      rows.filter((row) => row.pid === Deno.pid && row.name.includes(dir.path))
        .map((row) => [row.fd, row.name, unixPath(row)]);
    try {
      const real = `${dir.path}/a.sock`;
      const inode = Deno.statSync(`/proc/self/fd/${listening(real)}`).ino!;
      for (const [claimed, name] of [[inode, "a"], [unusedSocketInode(), "b"]] as const) {
        // In /proc/net/unix, the rest of this path reads as a line: socket `claimed` at `forged`.
        const forged = `${dir.path}/forged-${name}`;
        const path = forgingUnixPath(`${dir.path}/${name}`, claimed, forged);
        const fd = String(listening(path));
        const expected = [[fd, `${path} type=STREAM (LISTEN)`, path]];
        assert.deepEqual(ours(await fdsJson(["--unix", path])), expected);
        assert.deepEqual(ours(await fdsJson(["--path", path, "--listen"])), expected);
        // A listing names every socket by its whole path too.
        assert.deepEqual(ours(await fdsJson(["-p", String(Deno.pid)])), bound);
        const table = await runOpsd(["fds", "--unix", path]);
        assert.equal(table.code, 0, table.stderr);
        const lines = table.stdout.trim().split("\n");
        assert.equal(lines.length, 2, table.stdout);
        const escaped = `${path.replace("\n", "\\n")} type=STREAM (LISTEN)`;
        assert.ok(lines[1].endsWith(` ${escaped}`), lines[1]);
        // Neither the path's first line nor the forged line names a socket.
        for (const other of [path.slice(0, path.indexOf("\n")), forged]) {
          const run = await runOpsd(["fds", "--unix", other]);
          assert.deepEqual([run.code, run.stdout, withoutRootNote(run.stderr)], [
            1,
            "",
            `opsd fds: no such file: ${escapeText(other)}\n`,
          ], other);
        }
        // Closed, so that the next forgery is the only one in the table.
        close(fds.pop()!);
        bound.pop();
      }
      assert.deepEqual((await fdsJson(["--unix", real])).map((r) => r.socket?.inode), [inode]);
    } finally {
      for (const fd of fds) close(fd);
    }
  },
);

/** Runs `opsd ARGS` as root without CAP_SYS_PTRACE: it may list another user's fds, not read them. */
async function runWithoutPtrace(args: string[]): Promise<OpsdRun> {
  const argv = ["--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace", ...opsdArgv(args)];
  const { code, stdout, stderr } = await new Deno.Command("setpriv", { args: argv }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/**
 * Runs Deno `script`, which prints the port it listens on, under `setpriv SETPRIV...`;
 * returns the child (the caller kills it) and that port.
 */
async function portHolder(
  setpriv: string[],
  script: string,
): Promise<{ child: Deno.ChildProcess; port: string }> {
  const child = new Deno.Command("setpriv", {
    args: [...setpriv, Deno.execPath(), "eval", script],
    stdout: "piped",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const port = (await reader.read()).value!.trim();
    await reader.cancel();
    return { child, port };
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw error;
  }
}

Deno.test({
  name:
    "opsd fds as root without CAP_SYS_PTRACE shows another user's unreadable fds as lsof does, and a query says it skipped them",
  ignore: !IS_ROOT || !HAS_SETPRIV || NOBODY === null,
  sanitizeResources: true,
  sanitizeOps: true,
  async fn() {
    await using dir = await tempDir();
    Deno.chmodSync(dir.path, 0o755);
    const file = `${dir.path}/held.txt`, cache = `${dir.path}/cache`;
    Deno.writeTextFileSync(file, "x");
    Deno.mkdirSync(cache);
    Deno.chownSync(cache, NOBODY![0], NOBODY![1]);
    // nobody listens on a port and holds the file.
    const script = `const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const file = Deno.openSync(${JSON.stringify(file)});
      console.log(listener.addr.port);
      setInterval(() => {}, 1 << 30);`;
    const { child, port } = await portHolder([
      ...[`--reuid=${NOBODY![0]}`, `--regid=${NOBODY![1]}`, "--clear-groups"],
      ...["env", `DENO_DIR=${cache}`],
    ], script);
    try {
      const pid = String(child.pid);
      // lsof's fd numbers, as it lists them without CAP_SYS_PTRACE.
      const lsofFds = async () => {
        const lsof = await new Deno.Command("setpriv", {
          // Without -w: lsof counts these rows as warnings.
          args: ["--bounding-set=-sys_ptrace", "lsof", "-nP", "-p", pid, "-F", "f"],
        }).output();
        return new TextDecoder().decode(lsof.stdout).split("\n")
          .filter((line) => /^f\d+$/.test(line)).map((line) => line.slice(1));
      };
      const before = HAS_LSOF ? await lsofFds() : [];
      // A row per fd, the reason in NAME, as lsof shows them.
      const listing = await runWithoutPtrace(["fds", "-p", pid]);
      assert.equal(listing.code, 0, listing.stderr);
      const fds = listing.stdout.trim().split("\n").slice(1).map((l) => l.replace(/ +/g, " "))
        .filter((line) => /^deno \d+ nobody \d+ /.test(line));
      assert.ok(fds.length >= 4, listing.stdout);
      for (const line of fds) {
        const fd = line.split(" ")[3];
        assert.equal(
          line,
          `deno ${pid} nobody ${fd} unknown /proc/${pid}/fd/${fd} (readlink: Permission denied)`,
        );
      }
      if (HAS_LSOF) {
        // The child's runtime may open or close a cache file meanwhile: lsof looks before and after.
        const after = await lsofFds();
        const shown = fds.map((line) => line.split(" ")[3]);
        assert.deepEqual(before.filter((fd) => after.includes(fd) && !shown.includes(fd)), []);
        assert.deepEqual(shown.filter((fd) => !before.includes(fd) && !after.includes(fd)), []);
      }
      // A query cannot tell whether those fds are the file or the port: it says so.
      const note =
        /^opsd fds: \d+ process\(es\) could not be inspected \(permission denied\): run with CAP_SYS_PTRACE to /;
      for (const args of [["--path", file], ["-q", "--path", file]]) {
        const run = await runWithoutPtrace(["fds", ...args]);
        assert.deepEqual([run.code, run.stdout], [1, ""], args.join(" "));
        assert.match(run.stderr, new RegExp(`${note.source}include them\n$`));
      }
      const byPort = await runWithoutPtrace(["fds", "--port", port]);
      assert.equal(byPort.code, 0, byPort.stderr);
      const [, row] = byPort.stdout.trim().split("\n").map((l) => l.replace(/ +/g, " "));
      assert.match(
        row,
        new RegExp(`^\\? \\? nobody \\? IPv4 \\d+ TCP 127\\.0\\.0\\.1:${port} \\(LISTEN\\)$`),
      );
      assert.match(
        byPort.stderr,
        new RegExp(`${note.source}see who holds the sockets shown with PID \\?\n$`),
      );
      // -q answers "taken" from the socket table: complete, so quiet; "not held by PID" is not.
      const quiet = await runWithoutPtrace(["fds", "-q", "--port", port]);
      assert.deepEqual([quiet.code, quiet.stdout, quiet.stderr], [0, "", ""]);
      const selected = await runWithoutPtrace(["fds", "-q", "--port", port, "-p", pid]);
      assert.deepEqual([selected.code, selected.stdout], [1, ""]);
      assert.match(selected.stderr, new RegExp(`${note.source}include them\n$`));
      // -t implies lsof's -w: pids for every socket matched is a complete answer, printed alone
      // (kill $(opsd fds -t …) from cron mails nothing); a socket with no pid is still said.
      // (A holder opsd can read without CAP_SYS_PTRACE: root without it too.)
      const own = await portHolder(
        ["--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace"],
        script,
      );
      try {
        const terse = await runWithoutPtrace(["fds", "-t", "--port", own.port]);
        assert.deepEqual([terse.code, terse.stdout, terse.stderr], [0, `${own.child.pid}\n`, ""]);
      } finally {
        own.child.kill("SIGKILL");
        await own.child.status;
      }
      const unheld = await runWithoutPtrace(["fds", "-t", "--port", port]);
      assert.deepEqual([unheld.code, unheld.stdout], [0, ""]);
      assert.match(
        unheld.stderr,
        new RegExp(
          `${note.source}see who holds the sockets matched that no pid was printed for\n$`,
        ),
      );
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  },
});

Deno.test({
  name:
    "opsd fds --path finds a program or a cwd by device and inode under another name (hard link, bind mount)",
  sanitizeResources: true,
  sanitizeOps: true,
  async fn() {
    await using dir = await tempDir();
    const work = `${dir.path}/work`, bound = `${dir.path}/bound`;
    Deno.mkdirSync(work);
    Deno.mkdirSync(bound);
    await using sleeper = await startSleeper({ cwd: work });
    const pid = String(sleeper.pid);
    // A hard link to the program (where the temporary directory is on its filesystem).
    const link = `${dir.path}/sleephl`;
    let linked = true;
    try {
      Deno.linkSync(SLEEP, link);
    } catch {
      linked = false; // another filesystem: no hard link possible
    }
    if (linked) {
      const rows = await fdsJson(["--path", link, "-p", pid]);
      assert.deepEqual(rows.map((r) => [r.fd, r.type, r.name]), [["txt", "REG", SLEEP]]);
      const run = await runOpsd(["fds", "-q", "--path", link]);
      assert.equal(run.code, 0);
    }
    // The same directory under a bind mount, made in a mount namespace of opsd's own.
    if (CAN_UNSHARE_MOUNT) {
      const argv = opsdArgv(["fds", "--json", "--path", bound, "-p", pid]);
      const script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"';
      const run = await new Deno.Command("unshare", {
        args: ["-m", "sh", "-c", script, "sh", work, bound, ...argv],
      }).output();
      const stdout = new TextDecoder().decode(run.stdout);
      assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
      const rows = stdout.trim().split("\n").map((line) => JSON.parse(line));
      assert.deepEqual(rows.map((r) => [r.fd, r.type, r.name]), [["cwd", "DIR", work]]);
    }
  },
});

Deno.test({
  name:
    "opsd fds --path on a unix socket file lists the sockets bound there, as lsof does and as --unix does",
  ignore: !HAS_LSOF,
}, async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/app.sock`;
  using listener = Deno.listen({ transport: "unix", path });
  const byPath = await fdsJson(["--path", path]);
  assert.deepEqual(
    byPath.map((row) => [row.pid, row.type, row.socket?.kind === "unix" && row.socket.path]),
    [[Deno.pid, "unix", path]],
  );
  assert.deepEqual(byPath, await fdsJson(["--unix", path]));
  // lsof also lists every socket whose bound name it cannot stat (a socket of a removed directory,
  // one bound through /proc/self/fd/N/…), whatever PATH: those of other processes on this machine
  // are left out by their names.
  const lsof = await new Deno.Command("lsof", { args: ["-F", "pn", path] }).output();
  const holders = new TextDecoder().decode(lsof.stdout).split("\n").flatMap((line, i, lines) =>
    line === `n${path} type=STREAM` ? [lines.slice(0, i).findLast((l) => l[0] === "p")] : []
  );
  assert.deepEqual(holders, [`p${Deno.pid}`]);
  listener.close();
  const gone = await runOpsd(["fds", "--path", path]);
  assert.deepEqual([gone.code, gone.stdout], [1, ""], "a socket file nothing is bound to");
});

sanitizedTest(
  "opsd fds --path on a unix socket file passes the socket filters as --unix does (--listen keeps its listener, --tcp and --udp are refused), also through a symlink",
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/app.sock`, link = `${dir.path}/link`, file = `${dir.path}/f.txt`;
    Deno.writeTextFileSync(file, "");
    Deno.symlinkSync(path, link);
    using listener = Deno.listen({ transport: "unix", path });
    using _client = await Deno.connect({ transport: "unix", path });
    using _accepted = await listener.accept();
    const names = async (args: string[]) => (await fdsJson(args)).map((r) => [r.pid, r.name]);
    const listening = [[Deno.pid, `${path} type=STREAM (LISTEN)`]];
    const both = [...listening, [Deno.pid, `${path} type=STREAM (CONNECTED)`]];
    assert.deepEqual(await names(["--path", path]), both);
    assert.deepEqual(await names(["--path", path, "--listen"]), listening);
    assert.deepEqual(await names(["--unix", path, "--listen"]), listening);
    // The file beside it passes no filter; the socket file still does.
    assert.deepEqual(await names(["--path", file, "--path", path, "--listen"]), listening);
    // A symlink is followed, as for any file given to --path (lsof: only the name bound).
    assert.deepEqual(await names(["--path", link]), both);
    assert.deepEqual(await names(["--path", link, "--listen"]), listening);
    const quiet = await runOpsd(["fds", "-q", "--path", path, "--listen"]);
    assert.deepEqual([quiet.code, quiet.stdout, withoutRootNote(quiet.stderr)], [0, "", ""]);
    // What could never match is still refused, in one line naming the socket file.
    const neither = "a unix socket is neither TCP nor UDP (see 'opsd fds --help')\n";
    const refused: [string[], string][] = [
      [
        ["--path", path, "--tcp"],
        `--path never matches with --tcp: ${path} is a unix socket file`,
      ],
      [
        ["--path", link, "--udp"],
        `--path never matches with --udp: ${link} is a unix socket file`,
      ],
      [
        ["--path", file, "--path", path, "--unix", path, "--tcp"],
        `--path and --unix never match with --tcp: files are no sockets, ${path} is a unix ` +
        "socket file",
      ],
    ];
    for (const [args, expected] of refused) {
      const run = await runOpsd(["fds", ...args]);
      assert.deepEqual([run.code, run.stdout], [2, ""], args.join(" "));
      assert.equal(run.stderr, `opsd fds: ${expected}, and ${neither}`);
    }
    const files = await runOpsd(["fds", "--path", file, "--listen"]);
    assert.deepEqual([files.code, files.stdout], [2, ""]);
    assert.equal(
      files.stderr,
      "opsd fds: --path never matches with --listen: files are no sockets (see 'opsd fds --help')\n",
    );
  },
);

/** Whether `path` is a mount point opsd sees (`/dev/shm` is one on most Linux systems). */
function isMountPoint(path: string): boolean {
  const mountInfo = Deno.readTextFileSync("/proc/self/mountinfo");
  return mountInfo.split("\n").some((line) => line.split(" ")[4] === path);
}

sanitizedTest(
  "opsd fds --path MOUNTPOINT lists every file open on that filesystem, as lsof does (who keeps it busy)",
  async () => {
    const dir = Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "opsd-fds-" });
    // Its cwd and stdout on /dev/shm (a tmpfs), stdin and stderr on /dev (/dev/null), the rest on /.
    const child = new Deno.Command("sh", {
      args: ["-c", 'exec "$0" 1000 >out', SLEEP],
      cwd: dir,
      stdin: "null",
      stderr: "null",
    }).spawn();
    try {
      await waitFor("sleep to run", () => readProcStat(child.pid)?.comm === "sleep");
      const pid = String(child.pid);
      const fds = async (path: string) =>
        (await fdsJson(["-p", pid, path])).map((row) => [row.fd, row.name]);
      assert.deepEqual(await fds("/dev/shm"), [["cwd", dir], ["1", `${dir}/out`]]);
      // (and whatever else it inherited open on /dev/null)
      const dev = await fds("/dev");
      assert.deepEqual(dev.slice(0, 2), [["0", "/dev/null"], ["2", "/dev/null"]]);
      assert.ok(dev.every(([, name]) => name === "/dev/null"), `${dev}`);
      // A directory that is no mount point is the directory alone.
      assert.deepEqual(await fds(dir), [["cwd", dir]]);
      const root = await fds("/");
      assert.deepEqual(root.filter(([fd]) => fd !== "mem"), [["rtd", "/"], ["txt", SLEEP]]);
      assert.ok(
        root.some(([fd, name]) => fd === "mem" && /\/libc[.-]/.test(String(name))),
        `${root}`,
      );
      if (HAS_LSOF) {
        for (const path of ["/dev/shm", "/dev", "/"]) {
          const lsof = await new Deno.Command("lsof", {
            args: ["-nP", "-w", "-a", "-p", pid, "-Ff", path],
          })
            .output();
          const lsofFds = new TextDecoder().decode(lsof.stdout).split("\n")
            .filter((line) => line.startsWith("f")).map((line) => line.slice(1));
          assert.deepEqual((await fds(path)).map(([fd]) => fd).sort(), lsofFds.sort(), path);
        }
      }
    } finally {
      child.kill("SIGKILL");
      await child.status;
      Deno.removeSync(dir, { recursive: true });
    }
  },
  { ignore: !isMountPoint("/dev/shm") || !isMountPoint("/dev") },
);

sanitizedTest(
  "opsd fds names a file whose name is not UTF-8 byte for byte, as lsof does (\\xNN), and --json keeps each byte (\\udcNN)",
  async () => {
    await using dir = await tempDir();
    // Deno's file APIs take text only: a shell makes the Latin-1 name "caf\xe9.log" and holds
    // it, from a working directory "caf\xe9" (its cwd row, read by readlink, keeps the byte too).
    const holder = new Deno.Command("sh", {
      args: [
        "-c",
        `cd "$1" && mkdir "$(printf 'caf\\351')" && cd "$(printf 'caf\\351')" && ` +
        `exec 3>"../$(printf 'caf\\351.log')" && echo ready && exec sleep 30`,
        "sh",
        dir.path,
      ],
      stdout: "piped",
    }).spawn();
    try {
      const reader = holder.stdout.getReader();
      assert.equal(new TextDecoder().decode((await reader.read()).value), "ready\n");
      reader.releaseLock();
      const pid = String(holder.pid);
      const rows = await fdsJson(["-p", pid]);
      const fd3 = rows.find((r) => r.fd === "3");
      assert.equal(fd3?.name, `${dir.path}/caf\udce9.log`);
      assert.equal(rows.find((r) => r.fd === "cwd")?.name, `${dir.path}/caf\udce9`);
      const table = await runOpsd(["fds", "-p", pid]);
      assert.ok(table.stdout.includes(` 3w `), table.stdout);
      assert.ok(table.stdout.includes(`${dir.path}/caf\\xe9.log\n`), table.stdout);
      assert.ok(table.stdout.includes(`${dir.path}/caf\\xe9\n`), table.stdout);
      if (HAS_LSOF) {
        const lsof = await new Deno.Command("lsof", {
          args: ["-nP", "-a", "-p", pid, "-d", "3", "-F", "n"],
        })
          .output();
        assert.ok(new TextDecoder().decode(lsof.stdout).includes(`n${dir.path}/caf\\xe9.log\n`));
      }
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
      await holder.stdout.cancel().catch(() => {});
    }
  },
);

Deno.test({
  name: "opsd fds -u: a user's processes (name or uid), ^USER leaves them out, as lsof -u",
  ignore: !IS_ROOT || NOBODY === null,
  async fn() {
    // `opsd exec` becomes sleep, run as nobody, under the same pid.
    const [program, ...args] = opsdArgv(["exec", "--user", "nobody", "--", "sleep", "60"]);
    const child = new Deno.Command(program, { args, stdout: "null" }).spawn();
    try {
      await waitFor("sleep to run as nobody", () => readProcStat(child.pid)?.comm === "sleep");
      const pids = async (...selectors: string[]) => {
        const run = await runOpsd(["fds", "-t", ...selectors]);
        assert.equal(run.stderr, "");
        return run.stdout.trim().split("\n").filter((line) => line !== "").map(Number);
      };
      const mine = String(Deno.pid), sleeper = String(child.pid);
      assert.deepEqual(await pids("-u", "nobody", "-p", `${sleeper},${mine}`), [child.pid]);
      assert.deepEqual(await pids("-u", String(NOBODY![0]), "-c", "sleep", "-p", sleeper), [
        child.pid,
      ]);
      assert.deepEqual(await pids("-u", "^nobody", "-p", `${sleeper},${mine}`), [Deno.pid]);
      assert.deepEqual(
        await pids("-u", "root,nobody", "-p", `${sleeper},${mine}`).then((p) =>
          p.sort((a, b) => a - b)
        ),
        [child.pid, Deno.pid].sort((a, b) => a - b),
      );
      assert.deepEqual(await pids("-u", "nobody", "-u", "^nobody", "-p", sleeper), []);
      const huge = await runOpsd(["fds", "-u", "4294967295"]);
      assert.deepEqual([huge.code, huge.stdout], [2, ""]);
      assert.match(huge.stderr, /: uid 4294967295 is out of range: ids go from 0 to 4294967294 /);
      const bad = await runOpsd(["fds", "-u", "no-such-user-here"]);
      assert.deepEqual([bad.code, bad.stdout], [2, ""]);
      assert.equal(
        bad.stderr,
        `opsd fds: -u: bad user "no-such-user-here": no account has that name ` +
          `(see 'getent passwd'): name one, or give a uid (see 'opsd fds --help')\n`,
      );
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  },
});

/** `lsof -F pf ARGS` as `pid:fd` keys, sorted (lsof +D exits 1 unless every file is open). */
async function lsofKeys(args: string[]): Promise<string[]> {
  const lsof = await new Deno.Command("lsof", { args: ["-nP", "-w", "-F", "pf", ...args] })
    .output();
  const keys: string[] = [];
  let pid = "";
  for (const line of new TextDecoder().decode(lsof.stdout).split("\n")) {
    if (line[0] === "p") pid = line.slice(1);
    if (line[0] === "f") keys.push(`${pid}:${line.slice(1)}`);
  }
  return keys.sort();
}

sanitizedTest(
  "opsd fds --dir DIR lists what is held in the tree, as lsof +D DIR: fds in nested directories, a cwd, a program, a mapped file, a unix socket, and removed files lsof cannot see; never a sibling sharing DIR's prefix",
  async () => {
    await using temp = await tempDir();
    const root = Deno.realPathSync(temp.path);
    const dir = `${root}/app`, sibling = `${root}/app-old`;
    for (const sub of ["work", "bin", "run", "sub/deep"]) {
      Deno.mkdirSync(`${dir}/${sub}`, { recursive: true });
    }
    Deno.mkdirSync(sibling);
    for (const file of [`${dir}/a.txt`, `${dir}/gone.txt`, `${sibling}/c.txt`]) {
      Deno.writeTextFileSync(file, "x");
    }
    const program = `${dir}/bin/sleep`;
    Deno.copyFileSync(SLEEP, program);
    // The loader maps the program and closes its fd (a mem row); cwd and fds 3-6 in the tree or not.
    const script = 'cd "$1/work" && exec "$0" "$1/bin/sleep" 1000 3<"$1/a.txt" ' +
      '4>>"$1/sub/deep/b.log" 5<"$1/gone.txt" 6<"$2/c.txt"';
    const mapper = new Deno.Command("sh", {
      args: ["-c", script, LOADER!, dir, sibling],
      stdin: "null",
    }).spawn();
    // Runs the program in the tree (txt) from the sibling.
    const runner = new Deno.Command(program, { args: ["1000"], cwd: sibling, stdin: "null" })
      .spawn();
    using _listener = Deno.listen({ transport: "unix", path: `${dir}/run/app.sock` });
    try {
      await waitFor("the program and libc to be mapped, and the runner to run", () => {
        const maps = Deno.readTextFileSync(`/proc/${mapper.pid}/maps`);
        return maps.includes(` ${program}\n`) && /\/libc[.-]/.test(maps) &&
          readProcStat(runner.pid)?.comm === "sleep";
      });
      Deno.removeSync(`${dir}/gone.txt`);
      const rows = async (args: string[]) =>
        (await fdsJson(args)).map((row) => `${row.pid}:${row.fd} ${row.name}`);
      const [a, b, self] = [mapper.pid, runner.pid, Deno.pid];
      const expected = [
        `${a}:cwd ${dir}/work`,
        `${a}:mem ${program}`,
        `${a}:3 ${dir}/a.txt`,
        `${a}:4 ${dir}/sub/deep/b.log`,
        `${a}:5 ${dir}/gone.txt (deleted)`,
        `${b}:txt ${program}`,
      ];
      const found = await rows(["--dir", dir]);
      const unix = found.filter((row) => row.startsWith(`${self}:`));
      assert.equal(unix.length, 1, found.join("\n"));
      assert.match(unix[0], new RegExp(` ${dir}/run/app\\.sock type=STREAM \\(LISTEN\\)$`));
      const byPid = (keys: string[]) =>
        keys.slice().sort((x, y) => Number(x.split(":")[0]) - Number(y.split(":")[0]));
      assert.deepEqual(found.filter((row) => !row.startsWith(`${self}:`)), byPid(expected));
      assert.ok(found.every((row) => !row.includes(sibling)), "the sibling app-old is no part");
      // DIR through a symlink, with .. or a trailing slash: the same tree.
      Deno.symlinkSync(dir, `${root}/link`);
      for (const spelled of [`${root}/link/`, `${dir}/work/..`]) {
        assert.deepEqual(await rows(["--dir", spelled]), found, spelled);
      }
      if (HAS_LSOF) {
        // lsof stats the tree: it cannot see the removed file; otherwise the same fds. Only
        // this test's processes: lsof runs a second later, when another process on this shared
        // machine (a find or rm walking /tmp) may be passing through the tree.
        const ours = (keys: string[]) =>
          keys.filter((key) => [a, b, self].includes(Number(key.split(":")[0])));
        const lsof = ours(await lsofKeys(["+D", dir]));
        const opsd = found.map((row) => row.split(" ")[0]).filter((key) => key !== `${a}:5`);
        assert.deepEqual(lsof, opsd.sort());
        assert.deepEqual(ours(await lsofKeys(["+D", sibling])), [`${a}:6`, `${b}:cwd`].sort());
      }
      assert.deepEqual(
        await rows(["--dir", sibling]),
        byPid([
          `${a}:6 ${sibling}/c.txt`,
          `${b}:cwd ${sibling}`,
        ]),
      );
      assert.deepEqual(await rows(["--dir", `${dir}/sub/deep`]), [
        `${a}:4 ${dir}/sub/deep/b.log`,
      ]);
      // Combined as --path is: -p narrows, --path widens, --listen keeps the unix listener.
      assert.deepEqual(await rows(["--dir", dir, "-p", String(b)]), [`${b}:txt ${program}`]);
      assert.deepEqual(
        await rows(["--dir", `${dir}/sub`, "--path", `${sibling}/c.txt`]),
        [`${a}:4 ${dir}/sub/deep/b.log`, `${a}:6 ${sibling}/c.txt`],
      );
      assert.deepEqual(await rows(["--dir", dir, "--listen"]), unix);
      const terse = await runOpsd(["fds", "-t", "--dir", dir]);
      const pids = [...new Set([a, b, self])].sort((x, y) => x - y).map((pid) => `${pid}\n`);
      assert.deepEqual([terse.code, terse.stdout], [0, pids.join("")]);
      const quiet = await runOpsd(["fds", "-q", "--dir", `${dir}/sub`]);
      assert.deepEqual([quiet.code, quiet.stdout, withoutRootNote(quiet.stderr)], [0, "", ""]);
      // Removed with all it holds: what is still open there is found by name (the space rm -rf
      // did not free).
      Deno.removeSync(`${dir}/sub`, { recursive: true });
      assert.deepEqual(await rows(["--dir", `${dir}/sub/`]), [
        `${a}:4 ${dir}/sub/deep/b.log (deleted)`,
      ]);
    } finally {
      for (const child of [mapper, runner]) {
        child.kill("SIGKILL");
        await child.status;
      }
    }
  },
  { ignore: LOADER === null },
);

Deno.test("opsd fds --dir: an empty DIR or one that is no directory is a usage error, one naming nothing says so (exit 1), and --tcp or --udp never match", async () => {
  await using temp = await tempDir();
  const file = `${temp.path}/f.txt`, missing = `${temp.path}/nothing`;
  Deno.writeTextFileSync(file, "");
  const refused: [string[], string][] = [
    [
      ["--dir", ""],
      "--dir: bad value '': expected a directory, not an empty string (an unset variable?)",
    ],
    [["--dir", file], `--dir ${file} is no directory: for a file use --path`],
    [
      ["--dir", temp.path, "--tcp"],
      "--dir never matches with --tcp: files are no sockets, and a unix socket is neither TCP nor UDP",
    ],
  ];
  for (const [args, message] of refused) {
    const run = await runOpsd(["fds", ...args]);
    assert.deepEqual([run.code, run.stdout], [2, ""], args.join(" "));
    assert.equal(run.stderr, `opsd fds: ${message} (see 'opsd fds --help')\n`);
  }
  const none = await runOpsd(["fds", "--dir", missing]);
  assert.deepEqual([none.code, none.stdout], [1, ""]);
  assert.equal(withoutRootNote(none.stderr), `opsd fds: no such directory: ${missing}\n`);
  const quiet = await runOpsd(["fds", "-q", "--dir", missing]);
  assert.deepEqual([quiet.code, quiet.stdout, withoutRootNote(quiet.stderr)], [1, "", ""]);
  // An empty directory that exists: nothing held, nothing to say.
  const empty = await runOpsd(["fds", "--dir", temp.path, "--json"]);
  assert.deepEqual([empty.code, empty.stdout, withoutRootNote(empty.stderr)], [1, "", ""]);
});

sanitizedTest(
  "opsd fds --dir includes a filesystem mounted below DIR (lsof +D needs -x f), matched by the names its holder sees",
  async () => {
    await using temp = await tempDir();
    const dir = `${Deno.realPathSync(temp.path)}/app`;
    Deno.mkdirSync(`${dir}/mnt`, { recursive: true });
    // In a mount namespace of its own, so that the machine's mounts stay as they are.
    const script = 'mount -t tmpfs none "$1/mnt" && echo x >"$1/mnt/f" && ' +
      'exec sleep 1000 3<"$1/mnt/f"';
    const child = new Deno.Command("unshare", {
      args: ["-m", "--propagation", "private", "sh", "-c", script, "sh", dir],
      stdin: "null",
    }).spawn();
    try {
      await waitFor("sleep to run", () => readProcStat(child.pid)?.comm === "sleep");
      const rows = await fdsJson(["--dir", dir, "-p", String(child.pid)]);
      assert.deepEqual(rows.map((row) => [row.fd, row.name]), [["3", `${dir}/mnt/f`]]);
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  },
  { ignore: !CAN_UNSHARE_MOUNT },
);

Deno.test("opsd fds --dir finds a file mapped in a directory whose name holds a newline (maps writes it as \\012), named as its fds are", async () => {
  await using temp = await tempDir();
  const dir = `${temp.path}/a\nb`;
  Deno.mkdirSync(dir);
  // A small library this test process maps already, copied there and mapped again from there.
  const maps = Deno.readTextFileSync("/proc/self/maps").split("\n");
  const library = maps.map((line) => line.split(/ +/)[5] ?? "").find((path) =>
    /\/lib(m|dl|rt|pthread|gcc_s)\.so[.\d]*$/.test(path)
  );
  assert.ok(library, "this process maps libm, libdl, librt, libpthread or libgcc_s");
  const copy = `${dir}/copy.so`;
  Deno.copyFileSync(library, copy);
  const loaded = Deno.dlopen(copy, {});
  try {
    const run = await runOpsd(["fds", "--json", "--dir", dir, "-p", String(Deno.pid)]);
    assert.equal(run.code, 0, run.stderr);
    const rows = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as FdRow);
    assert.deepEqual(rows.map((row) => [row.fd, row.name]), [["mem", copy]]);
    const byPath = await runOpsd(["fds", "--json", "--path", copy, "-p", String(Deno.pid)]);
    assert.equal(byPath.code, 0, byPath.stderr);
    assert.equal((JSON.parse(byPath.stdout.trim()) as FdRow).name, copy);
  } finally {
    loaded.close();
  }
});

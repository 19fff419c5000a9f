import assert from "node:assert/strict";
import {
  describeFd,
  describeSpecial,
  lockLetter,
  unheldSocketRow,
} from "../../lib/fds/describe.ts";
import { formatRows, rowJson } from "../../lib/fds/format.ts";
import { compareRows } from "../../lib/fds/row.ts";
import { MountIndex } from "../../lib/fds/mounts.ts";
import type { InetSocket } from "../../lib/procfs/net.ts";
import type { FdLock } from "../../lib/procfs/fdinfo.ts";
import { close, open, pipe2 } from "../../lib/sys/libc.ts";
import { O } from "../../lib/sys/constants.ts";
import { tempDir } from "../fixtures/mod.ts";

const lock = (access: string, start: number, end: number | null): FdLock => ({
  kind: "POSIX",
  access,
  pid: 1,
  major: 0,
  minor: 0,
  inode: 0,
  start,
  end,
});

Deno.test("lockLetter: whole-file locks upper case, partial lower case, read and write u", () => {
  assert.equal(lockLetter([]), "");
  assert.equal(lockLetter([lock("WRITE", 0, null)]), "W");
  assert.equal(lockLetter([lock("READ", 0, null)]), "R");
  assert.equal(lockLetter([lock("READ", 10, 29)]), "r");
  assert.equal(lockLetter([lock("WRITE", 0, 99)]), "w");
  assert.equal(lockLetter([lock("READ", 0, 9), lock("WRITE", 10, null)]), "u");
  assert.equal(
    lockLetter([{ ...lock("READ", 0, null), kind: "LEASE" }, lock("BREAKING", 0, null)]),
    "R",
  );
});

Deno.test("describeFd describes a pipe as lsof does, and returns null for a closed fd", () => {
  const [readEnd, writeEnd] = pipe2();
  const process = { pid: Deno.pid, ppid: 1, command: "deno", uid: 0, user: "root" };
  const context = { sockets: new Map(), netns: new Map(), mounts: new MountIndex(), stat: true };
  try {
    const link = Deno.readLinkSync(`/proc/self/fd/${readEnd}`);
    const row = describeFd(process, readEnd, link, context)!;
    assert.deepEqual(
      [row.fd, row.mode, row.type, row.sizeOff, row.name, row.cloexec],
      [String(readEnd), "r", "FIFO", "0t0", "pipe", true],
    );
    assert.equal(row.node, link.slice(6, -1));
    assert.match(row.device, /^0,\d+$/);
  } finally {
    close(readEnd);
    close(writeEnd);
  }
  assert.equal(describeFd(process, readEnd, "pipe:[1]", context), null);
});

Deno.test("describeFd: an O_PATH fd has no mode letter (it neither reads nor writes)", async () => {
  await using dir = await tempDir();
  const process = { pid: Deno.pid, ppid: 1, command: "deno", uid: 0, user: "root" };
  const context = { sockets: new Map(), netns: new Map(), mounts: new MountIndex(), stat: true };
  const pathFd = open(dir.path, O.PATH | O.CLOEXEC);
  const readFd = open(dir.path, O.RDONLY | O.DIRECTORY | O.CLOEXEC);
  try {
    const rows = [pathFd, readFd].map((fd) =>
      describeFd(process, fd, Deno.readLinkSync(`/proc/self/fd/${fd}`), context)!
    );
    assert.deepEqual(rows.map((row) => [row.mode, row.type, row.name]), [
      ["", "DIR", dir.path],
      ["r", "DIR", dir.path],
    ]);
    assert.equal(formatRows([rows[0]]).split("\n")[1].split(/ +/)[3], String(pathFd));
  } finally {
    close(pathFd);
    close(readFd);
  }
});

Deno.test("describeFd and describeSpecial never stat a file on a network filesystem: TYPE unknown, mount in NAME", async () => {
  await using dir = await tempDir();
  const fd = open(`${dir.path}/remote.txt`, O.RDWR | O.CREAT | O.CLOEXEC);
  const nfs = {
    id: 99,
    device: "0:99",
    root: "/",
    mountPoint: dir.path,
    fsType: "nfs4",
    source: "server:/x",
  };
  const context = {
    sockets: new Map(),
    netns: new Map(),
    mounts: { byId: () => nfs, forPath: () => nfs },
    stat: true,
  };
  const process = { pid: Deno.pid, ppid: 1, command: "deno", uid: 0, user: "root" };
  try {
    const row = describeFd(process, fd, `${dir.path}/remote.txt`, context)!;
    assert.deepEqual(
      [row.type, row.device, row.sizeOff, row.name],
      ["unknown", "0,99", "0t0", `${dir.path}/remote.txt (nfs4 server:/x)`],
    );
    assert.equal(row.node, String(Deno.statSync(`${dir.path}/remote.txt`).ino));
    const cwd = describeSpecial(process, "cwd", context)!;
    assert.deepEqual([cwd.type, cwd.device, cwd.node], ["unknown", "0,99", ""]);
    // The program's identity comes from the process's maps, which touch no file.
    const txt = describeSpecial(process, "txt", context)!;
    const exe = Deno.statSync(Deno.readLinkSync("/proc/self/exe"));
    assert.deepEqual([txt.type, txt.node, txt.sizeOff], ["unknown", String(exe.ino), ""]);
    assert.match(txt.device, /^\d+,\d+$/);
  } finally {
    close(fd);
  }
});

Deno.test("unheldSocketRow: a socket whose holder is unknown, owned by the table's uid", () => {
  const found: { kind: "inet"; socket: InetSocket } = {
    kind: "inet",
    socket: {
      protocol: "tcp",
      family: "ipv4",
      localAddress: "127.0.0.1",
      localPort: 18080,
      remoteAddress: "0.0.0.0",
      remotePort: 0,
      state: 10,
      inode: 4242,
      uid: 0,
    },
  };
  const row = unheldSocketRow(found);
  const json = rowJson(row);
  assert.deepEqual(
    [json.command, json.pid, json.fd, json.user, json.uid, json.cloexec, json.device, json.node],
    [null, null, null, "root", 0, null, "4242", "TCP"],
  );
  assert.deepEqual(json.socket, {
    kind: "inet",
    protocol: "tcp",
    family: "ipv4",
    localAddress: "127.0.0.1",
    localPort: 18080,
    remoteAddress: "0.0.0.0",
    remotePort: 0,
    state: "LISTEN",
    inode: 4242,
  });
  const [, line] = formatRows([row]).trim().split("\n");
  assert.equal(line.replace(/ +/g, " "), "? ? root ? IPv4 4242 TCP 127.0.0.1:18080 (LISTEN)");
  assert.equal(json.netns, null);
  // A socket of another network namespace says which, after its name.
  const elsewhere = unheldSocketRow(found, 4026532001);
  assert.equal(rowJson(elsewhere).netns, 4026532001);
  assert.match(formatRows([elsewhere]), /127\.0\.0\.1:18080 \(LISTEN\) \(netns 4026532001\)\n$/);
  // After the rows of known processes.
  const held = { ...row, command: "nginx", pid: 99999, fd: "3", fdNumber: 3 };
  assert.deepEqual([row, held].sort(compareRows), [held, row]);
});

Deno.test("unheldSocketRow: a unix socket, its owner from sock_diag or unknown (?)", () => {
  const socket = {
    inode: 4343,
    kernelAddress: "0x0000000000000000",
    path: "/run/app.sock",
    type: "STREAM",
    state: "LISTEN",
    peer: 0,
    uid: 0,
  };
  const json = rowJson(unheldSocketRow({ kind: "unix", socket }));
  assert.deepEqual(
    [json.command, json.pid, json.fd, json.user, json.uid, json.type, json.device, json.node],
    [null, null, null, "root", 0, "unix", "0x0000000000000000", "4343"],
  );
  assert.deepEqual(json.socket, {
    kind: "unix",
    inode: 4343,
    path: "/run/app.sock",
    type: "STREAM",
    state: "LISTEN",
  });
  const unknown = unheldSocketRow({ kind: "unix", socket: { ...socket, uid: null } });
  assert.deepEqual([unknown.user, unknown.uid], ["?", null]);
  const [, line] = formatRows([unknown]).trim().split("\n");
  assert.equal(
    line.replace(/ +/g, " "),
    "? ? ? ? unix 0x0000000000000000 4343 /run/app.sock type=STREAM (LISTEN)",
  );
});

Deno.test("describeSpecial with `wanted` refuses a link by its target before looking anything up", () => {
  const lookups: string[] = [];
  const context = {
    sockets: new Map(),
    netns: new Map(),
    mounts: {
      byId: () => undefined,
      forPath: (_pid: number, path: string) => (lookups.push(path), undefined),
    },
    stat: true,
  };
  const process = { pid: Deno.pid, ppid: 1, command: "deno", uid: 0, user: "root" };
  const cwd = Deno.realPathSync(Deno.cwd());
  assert.equal(describeSpecial(process, "cwd", context, (target) => target !== cwd), null);
  assert.deepEqual(lookups, []);
  const row = describeSpecial(process, "cwd", context, (target) => target === cwd)!;
  assert.deepEqual([row.fd, row.type, row.name], ["cwd", "DIR", cwd]);
  assert.deepEqual(lookups, [cwd]);
});

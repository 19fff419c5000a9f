import assert from "node:assert/strict";
import { walkProcesses, workersWorthStarting } from "../../lib/fds/walk.ts";
import { close, dupCloexec, isErrno, open } from "../../lib/sys/libc.ts";
import { O } from "../../lib/sys/constants.ts";
import { tempDir } from "../fixtures/mod.ts";

const GONE = 2 ** 22 + 12345; // above pid_max: never a process

function socketInode(fd: number): number {
  return Number(/socket:\[(\d+)\]/.exec(Deno.readLinkSync(`/proc/self/fd/${fd}`))![1]);
}

/** This process's fd for a Deno listener (the one whose link names its socket inode). */
function listenerFd(port: number): number {
  for (const entry of Deno.readDirSync("/proc/self/fdinfo")) {
    const link = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
    if (!link.startsWith("socket:")) continue;
    const inode = link.slice(8, -1);
    const line = Deno.readTextFileSync("/proc/net/tcp").split("\n")
      .find((l) => l.includes(`:${port.toString(16).toUpperCase().padStart(4, "0")} `));
    if (line?.trim().split(/\s+/)[9] === inode) return Number(entry.name);
  }
  throw new Error("listener fd not found");
}

Deno.test("walkProcesses finds who holds a socket inode, and skips processes that are gone", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const fd = listenerFd((listener.addr as Deno.NetAddr).port);
  const inode = socketInode(fd);
  const found = await walkProcesses([GONE, Deno.pid], { inodes: [inode] });
  assert.deepEqual(found.sockets, [Deno.pid, fd, inode]);
  assert.deepEqual(found.denied, []);
  assert.deepEqual(found.deniedLinks, []);
  assert.deepEqual(found.links, []);
});

Deno.test("walkProcesses keeps every socket of a process in another network namespace", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const fd = listenerFd((listener.addr as Deno.NetAddr).port);
  const ours = Deno.readLinkSync("/proc/self/ns/net");
  const same = await walkProcesses([Deno.pid], { inodes: [], netns: ours });
  assert.deepEqual(same.sockets, []);
  assert.deepEqual(same.foreignNetns, []);
  // Seen from a reader in another namespace, this process is the foreign one.
  const other = await walkProcesses([Deno.pid, GONE], { inodes: [], netns: "net:[1]" });
  assert.deepEqual(other.foreignNetns, [[Deno.pid, ours]]);
  const socketFds = other.sockets.filter((_, i) => i % 3 === 1); // flat pid, fd, inode triples
  assert.ok(socketFds.includes(fd), "all its sockets are kept, the listener too");
});

Deno.test("walkProcesses matches paths, also deleted ones, and lists everything when asked", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/gone.txt`;
  const fd = open(path, O.RDWR | O.CREAT | O.CLOEXEC);
  try {
    Deno.removeSync(path);
    const found = await walkProcesses([Deno.pid], { paths: [path] });
    assert.deepEqual(found.links, [[Deno.pid, fd, `${path} (deleted)`]]);
    const all = await walkProcesses([Deno.pid], { everything: true });
    const count = Deno.readDirSync("/proc/self/fd").toArray().length - 1; // minus the walker's own dir fd
    assert.ok(all.links.length + all.sockets.length / 3 >= count - 2);
  } finally {
    close(fd);
  }
});

Deno.test("walkProcesses keeps the links in a directory tree: below it, the directory itself, removed ones; not a sibling sharing its prefix", async () => {
  await using dir = await tempDir();
  const root = Deno.realPathSync(dir.path);
  const [app, gone] = [`${root}/app`, `${root}/gone`];
  for (const sub of [`${app}/sub`, `${root}/app-old`, gone]) {
    Deno.mkdirSync(sub, { recursive: true });
  }
  const paths = [`${app}/a.txt`, `${app}/sub/b.txt`, `${app}/removed.txt`, `${root}/app-old/c.txt`];
  const fds = paths.map((path) => open(path, O.RDWR | O.CREAT | O.CLOEXEC));
  fds.push(
    open(app, O.RDONLY | O.DIRECTORY | O.CLOEXEC),
    open(gone, O.RDONLY | O.DIRECTORY | O.CLOEXEC),
  );
  try {
    Deno.removeSync(paths[2]);
    Deno.removeSync(gone);
    const found = await walkProcesses([Deno.pid], { dirs: [`${app}/`, `${gone}/`] });
    assert.deepEqual(found.links, [
      [Deno.pid, fds[0], paths[0]],
      [Deno.pid, fds[1], paths[1]],
      [Deno.pid, fds[2], `${paths[2]} (deleted)`],
      [Deno.pid, fds[4], app],
      [Deno.pid, fds[5], `${gone} (deleted)`],
    ]);
    // The root's prefix is "/": every file named by a path, the sibling's too.
    const all = await walkProcesses([Deno.pid], { dirs: ["/"] });
    const kept = all.links.map(([, fd]) => fd);
    for (const fd of fds) assert.ok(kept.includes(fd), `fd ${fd}`);
    assert.ok(all.links.every(([, , link]) => String(link).startsWith("/")));
  } finally {
    for (const fd of fds) close(fd);
  }
});

Deno.test("walkProcesses shares the work with Workers and merges what they found", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const inode = socketInode(listenerFd((listener.addr as Deno.NetAddr).port));
  await using dir = await tempDir();
  const file = open(`${Deno.realPathSync(dir.path)}/held.txt`, O.RDWR | O.CREAT | O.CLOEXEC);
  const previous = Deno.env.get("OPSD_FDS_WORKERS");
  Deno.env.set("OPSD_FDS_WORKERS", "2");
  try {
    const pids = Array.from({ length: 400 }, () => Deno.pid);
    const prefix = `${Deno.realPathSync(dir.path)}/`;
    const found = await walkProcesses(pids, { inodes: [inode], dirs: [prefix] });
    assert.equal(found.sockets.length / 3, 400);
    assert.equal(found.links.length, 400, "the file in the directory, from every thread");
  } finally {
    close(file);
    if (previous === undefined) Deno.env.delete("OPSD_FDS_WORKERS");
    else Deno.env.set("OPSD_FDS_WORKERS", previous);
  }
});

Deno.test("walkProcesses reads fd directories longer than one getdents64 buffer", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const fd = listenerFd((listener.addr as Deno.NetAddr).port);
  const copies: number[] = [];
  try {
    // 2500 entries need more than one 64 KiB getdents64 call (where the fd limit allows).
    for (let i = 0; i < 2500; i++) copies.push(dupCloexec(fd));
  } catch (error) {
    if (!isErrno(error, "EMFILE")) throw error;
  }
  try {
    const found = await walkProcesses([Deno.pid], { inodes: [socketInode(fd)] });
    assert.equal(found.sockets.length / 3, copies.length + 1);
  } finally {
    copies.forEach((copy) => close(copy));
  }
});

Deno.test("workersWorthStarting: none for a small walk, and no more than repay their start", () => {
  assert.equal(workersWorthStarting(999, 7), 0);
  assert.equal(workersWorthStarting(5000, 0), 0, "no idle CPU");
  assert.equal(workersWorthStarting(2000, 1), 1);
  // Each Worker blocks the calling thread while it is created: 2000 processes repay two, not seven.
  assert.equal(workersWorthStarting(2000, 7), 2);
  assert.equal(workersWorthStarting(50_000, 7), 7);
});

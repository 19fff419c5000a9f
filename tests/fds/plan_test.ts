import assert from "node:assert/strict";
import { planFds } from "../../lib/fds/plan.ts";
import { namedFile } from "../../lib/fds/paths.ts";
import { tempDir } from "../fixtures/mod.ts";

Deno.test("planFds names each path once and names the unix socket files among them as unix paths, through a symlink too", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/f.txt`, socket = `${dir.path}/s.sock`, link = `${dir.path}/link`;
  Deno.writeTextFileSync(file, "");
  using _listener = Deno.listen({ transport: "unix", path: socket });
  Deno.symlinkSync(socket, link);
  const paths = [file, socket, link, `${dir.path}/none`];
  const plan = planFds({ paths, unixPaths: ["/run/other.sock"] });
  assert.deepEqual(plan.named, paths.map(namedFile));
  assert.deepEqual(plan.query.paths, paths);
  assert.deepEqual(plan.query.unixPaths, ["/run/other.sock", socket, link]);
  assert.equal(plan.never, null);
  // No socket file: the query as it was.
  const query = { paths: [file] };
  assert.equal(planFds(query).query, query);
});

Deno.test("planFds says why files named could never pass the socket filters, and nothing when one could", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/f.txt`, socket = `${dir.path}/s.sock`;
  Deno.writeTextFileSync(file, "");
  using _listener = Deno.listen({ transport: "unix", path: socket });
  const never = (query: Parameters<typeof planFds>[0]) => planFds(query).never;
  assert.equal(
    never({ paths: [file], listen: true }),
    "--path never matches with --listen: files are no sockets",
  );
  assert.equal(
    never({ unixPaths: ["/run/x.sock"], udp: true }),
    "--unix never matches with --udp: a unix socket is neither TCP nor UDP",
  );
  assert.equal(
    never({ paths: [file, socket], unixPaths: [socket], tcp: true }),
    `--path and --unix never match with --tcp: files are no sockets, ${socket} is a unix ` +
      "socket file, and a unix socket is neither TCP nor UDP",
  );
  // A socket file passes --listen as --unix does; a port passes every filter; no filter, no refusal.
  assert.equal(never({ paths: [file, socket], listen: true }), null);
  assert.equal(never({ paths: [file], ports: [{ first: 80, last: 80 }], tcp: true }), null);
  assert.equal(never({ paths: [file] }), null);
  assert.equal(never({ tcp: true }), null);
});

Deno.test("planFds names the --unix paths that name no socket file: missing, or some other file; never an abstract name", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/f.txt`, socket = `${dir.path}/s.sock`, none = `${dir.path}/none`;
  Deno.writeTextFileSync(file, "");
  using _listener = Deno.listen({ transport: "unix", path: socket });
  const plan = planFds({ unixPaths: [socket, none, file, "@abstract"], paths: [socket] });
  assert.deepEqual(plan.strayUnix, [{ path: none, found: "missing" }, {
    path: file,
    found: "file",
  }]);
  assert.deepEqual(planFds({ paths: [none] }).strayUnix, []);
});

Deno.test("planFds resolves each --dir once (symlinks, .., a trailing slash), says which are missing, and refuses one that is no directory", async () => {
  await using dir = await tempDir();
  const root = Deno.realPathSync(dir.path);
  const app = `${root}/app`, file = `${root}/f.txt`, link = `${root}/link`;
  Deno.mkdirSync(`${app}/sub`, { recursive: true });
  Deno.writeTextFileSync(file, "");
  Deno.symlinkSync(app, link);
  const plan = planFds({ dirs: [`${link}/`, `${app}/sub/..`, `${root}/gone/../gone/`] });
  assert.deepEqual(plan.dirs, [
    { asked: `${link}/`, resolved: app, missing: false, notDirectory: false },
    { asked: `${app}/sub/..`, resolved: app, missing: false, notDirectory: false },
    {
      asked: `${root}/gone/../gone/`,
      resolved: `${root}/gone`,
      missing: true,
      notDirectory: false,
    },
  ]);
  assert.equal(plan.never, null);
  assert.equal(
    planFds({ dirs: [app, file] }).never,
    `--dir ${file} is no directory: for a file use --path`,
  );
});

Deno.test("planFds: a --dir may hold unix sockets, which pass --listen; nothing in it passes --tcp or --udp", async () => {
  await using dir = await tempDir();
  const never = (query: Parameters<typeof planFds>[0]) => planFds(query).never;
  assert.equal(never({ dirs: [dir.path], listen: true }), null);
  assert.equal(never({ dirs: [dir.path], paths: [dir.path], listen: true }), null);
  assert.equal(
    never({ dirs: [dir.path], tcp: true }),
    "--dir never matches with --tcp: files are no sockets, and a unix socket is neither TCP nor UDP",
  );
  assert.equal(
    never({ dirs: [dir.path], paths: [dir.path], unixPaths: ["/run/x.sock"], udp: true }),
    "--path, --dir and --unix never match with --udp: files are no sockets, and a unix socket " +
      "is neither TCP nor UDP",
  );
  assert.equal(never({ dirs: [dir.path], ports: [{ first: 80, last: 80 }], tcp: true }), null);
});

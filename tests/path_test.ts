import assert from "node:assert/strict";
import * as node from "node:path";
import { basename, dirname, dirPrefix, filePath, isInDir, resolvePath } from "../lib/path.ts";

/** Every string of up to `length` characters from `/`, `.` and `a`: each corner, tried. */
function allShort(length: number): string[] {
  if (length === 0) return [""];
  const shorter = allShort(length - 1);
  return [
    ...shorter,
    ...shorter.filter((path) => path.length === length - 1)
      .flatMap((path) => ["/", ".", "a"].map((c) => path + c)),
  ];
}

const PATHS = [
  ...allShort(6),
  "a/b",
  "a//b",
  "a/./b",
  "a/../b",
  "a/b/..",
  "a/b/../..",
  "a/b/../../..",
  "/a",
  "/a/",
  "//a",
  "///a",
  "//a//",
  "/a/b",
  "/a/b/",
  "/a//b",
  "/a///b//",
  "/a/./b/.",
  "/a/../b",
  "/..",
  "/../..",
  "/../a",
  "/a/..",
  "/a/b/../../..",
  "/srv/web/run",
  "/srv/web/log/",
  "./web.sh",
  "web.sh",
  ".web.sh.opsd",
  "...",
  "/a/.../b",
  "a/.hidden/",
  "/srv/web/supervise/current",
  "logs/../current",
  "~/x",
  "a b/c d",
  "/ünï/cödé",
];

Deno.test("dirname and basename agree with node:path", () => {
  for (const path of PATHS) {
    assert.equal(dirname(path), node.dirname(path), `dirname(${JSON.stringify(path)})`);
    assert.equal(basename(path), node.basename(path), `basename(${JSON.stringify(path)})`);
  }
});

Deno.test("resolvePath agrees with node:path resolve, from the working directory too", () => {
  const bases = [[], ["/"], ["/srv/web"], ["/srv/web/"], ["relative/dir"], ["../up"], [""]];
  for (const base of bases) {
    for (const path of PATHS) {
      const args = [...base, path];
      assert.equal(
        resolvePath(...args),
        node.resolve(...args),
        `resolvePath(${JSON.stringify(args)})`,
      );
    }
  }
  assert.equal(resolvePath(), node.resolve());
  assert.equal(
    resolvePath("/a", "b", "/c", "d/", "..", "e"),
    node.resolve("/a", "b", "/c", "d/", "..", "e"),
  );
  assert.equal(resolvePath("a", "", "b"), node.resolve("a", "", "b"));
});

Deno.test("resolvePath starts from the working directory of the moment", () => {
  const before = Deno.cwd();
  try {
    Deno.chdir("/tmp");
    assert.equal(resolvePath("x/../y"), `${Deno.realPathSync("/tmp")}/y`);
    Deno.chdir("/");
    assert.equal(resolvePath("..", "x"), "/x");
  } finally {
    Deno.chdir(before);
  }
});

Deno.test("filePath decodes a file URL's path (a space is %20 there)", () => {
  assert.equal(filePath(new URL("file:///srv/my%20app/main.ts")), "/srv/my app/main.ts");
  assert.equal(filePath("file:///srv/app/main.ts"), "/srv/app/main.ts");
});

Deno.test("isInDir: the directory itself and what is below it, not a sibling sharing its prefix; / holds every path", () => {
  assert.deepEqual(["/srv/app/", "/"].map(dirPrefix), ["/srv/app/", "/"]);
  assert.equal(dirPrefix("/srv/app"), "/srv/app/");
  assert.equal(isInDir("/srv/app", "/srv/app"), true);
  assert.equal(isInDir("/srv/app/log/x.log", "/srv/app"), true);
  assert.equal(isInDir("/srv/app-old/x.log", "/srv/app"), false);
  assert.equal(isInDir("/srv/ap", "/srv/app"), false);
  assert.equal(isInDir("/etc/hosts", "/"), true);
  assert.equal(isInDir("/", "/"), true);
  assert.equal(isInDir("pipe:[123]", "/"), false);
});

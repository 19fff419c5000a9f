#!/usr/bin/env -S deno run --allow-all
/**
 * Builds opsd's bundle (`deno task bundle`): `deno bundle` of main.ts with code
 * splitting, written as OUTDIR/opsd.js and the chunks it imports beside it.
 * Split, a run loads only what its command needs: `opsd status` or `opsd fds`
 * never parse the supervisor, nor load the Node compatibility module that
 * logtape imports (`node:util`), which a single-file bundle loads at every start
 * (about 20 ms of each run here). Works offline.
 *
 * Usage: scripts/bundle.ts [OUTDIR]   (default: dist/ beside main.ts)
 *
 * @module
 */

import { filePath } from "../lib/path.ts";

const _ROOT = filePath(new URL("../", import.meta.url));

/**
 * The files a build writes: the entry (as deno names it, then as renamed) and its
 * chunks, named `chunk-HASH.js` or, for a module imported dynamically, `NAME-HASH.js`.
 */
const _BUILT = /^(main|opsd|[\w]+-[A-Z0-9]{8})\.js$/;

/**
 * Bundles main.ts into `outDir` (created if needed; the files a previous build
 * left there are removed first, no other) and returns the path of its entry,
 * `outDir/opsd.js`. Throws with deno's own message when the build fails.
 */
export async function bundleOpsd(outDir: string): Promise<string> {
  Deno.mkdirSync(outDir, { recursive: true });
  for (const entry of Deno.readDirSync(outDir)) {
    if (entry.isFile && _BUILT.test(entry.name)) Deno.removeSync(`${outDir}/${entry.name}`);
  }
  const built = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      `--config=${_ROOT}deno.json`,
      "--code-splitting",
      "--outdir",
      outDir,
      `${_ROOT}main.ts`,
    ],
    stdout: "inherit",
  }).output();
  if (!built.success) {
    throw new Error(`deno bundle failed: ${new TextDecoder().decode(built.stderr).trim()}`);
  }
  // Chunks never import the entry, so it may take opsd's name.
  const entry = `${outDir}/opsd.js`;
  Deno.renameSync(`${outDir}/main.js`, entry);
  return entry;
}

if (import.meta.main) {
  const entry = await bundleOpsd(Deno.args[0] ?? `${_ROOT}dist`);
  console.log(`wrote ${entry} and its chunks; run it with: deno run -A ${entry}`);
}

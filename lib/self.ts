/**
 * How opsd starts another copy of itself (a background supervisor, an exec shim):
 * the one place that knows whether it runs as a compiled binary, a bundle or source.
 *
 * @module
 */

import { filePath } from "./path.ts";

/**
 * The argv that runs `opsd ARGS...` with the same code as this process:
 * the binary itself when compiled (`Deno.build.standalone`), else the Deno
 * executable running the bundle or `main.ts` with every permission opsd needs.
 *
 * @example
 * ```ts
 * const [program, ...args] = opsdArgv(["status", "/srv/web"]);
 * ```
 */
export function opsdArgv(args: readonly string[]): string[] {
  if (Deno.build.standalone) return [Deno.execPath(), ...args];
  const here = new URL(import.meta.url);
  // From source this module sits in lib/ beside main.ts.
  if (here.pathname.endsWith("/lib/self.ts")) {
    const root = new URL("../", here);
    return [
      Deno.execPath(),
      "run",
      "--allow-all",
      "--quiet",
      `--config=${filePath(new URL("deno.json", root))}`,
      filePath(new URL("main.ts", root)),
      ...args,
    ];
  }
  // A bundle is split into chunks (scripts/bundle.ts): this may be one of them, not the entry.
  return [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--quiet",
    filePath(Deno.mainModule),
    ...args,
  ];
}

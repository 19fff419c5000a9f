/**
 * opsd's version, read from deno.json so there is one place to bump it.
 *
 * @module
 */

import config from "../deno.json" with { type: "json" };

/** The version `opsd --version` prints. */
export const VERSION: string = config.version;

/**
 * `opsd fds` output: lsof's table (plus a CLOEXEC column) for people, one JSON
 * object per row for machines, with the same fields.
 *
 * @module
 */

import { escapeText } from "../text/escape.ts";
import { type Column, tableLines } from "../text/table.ts";
import type { FdRow } from "./row.ts";

const _COLUMNS: Column[] = [
  { header: "COMMAND" },
  { header: "PID", align: "right" },
  { header: "USER" },
  { header: "FD", align: "right" },
  { header: "TYPE", align: "right" },
  { header: "CLOEXEC" },
  { header: "DEVICE", align: "right" },
  { header: "SIZE/OFF", align: "right" },
  { header: "NODE", align: "right" },
  { header: "NAME" },
];

/**
 * The rows as lsof prints them: FD is the fd number (or cwd, rtd, txt, NOFD)
 * followed by the mode and lock letters; CLOEXEC says whether the fd closes on
 * exec. A socket whose holder is unknown shows `?` as COMMAND, PID and FD.
 * With leaks, each row is followed by one `  why: …` line per reason. Text
 * other processes chose is escaped as lsof escapes it (see {@linkcode escapeText}):
 * control characters in COMMAND, USER, NAME and the reasons, and spaces in
 * COMMAND and USER, which are not the last column. A socket of another
 * network namespace than opsd's has ` (netns N)` after its NAME.
 */
export function formatRows(rows: FdRow[]): string {
  const cells = rows.map((row) => [
    escapeText(row.command ?? "?", { spaces: true }),
    row.pid === null ? "?" : String(row.pid),
    escapeText(row.user, { spaces: true }),
    `${row.fd ?? "?"}${row.mode || " "}${row.lock || " "}`,
    row.type,
    row.cloexec === null ? "" : row.cloexec ? "yes" : "no",
    row.device,
    row.sizeOff,
    row.node,
    escapeText(row.netns === null ? row.name : `${row.name} (netns ${row.netns})`),
  ]);
  const [header, ...lines] = tableLines(_COLUMNS, cells);
  const out = [header];
  lines.forEach((line, i) => {
    out.push(line);
    for (const leak of rows[i].leaks ?? []) {
      out.push(`  why: ${escapeText(leak.reason)} [${leak.kind}]`);
    }
  });
  return `${out.join("\n")}\n`;
}

/**
 * The pids of the rows' processes, each once, in the rows' order, one per line
 * (lsof's `-t`), for `kill $(opsd fds -t --port 8080)`; a socket whose holder is
 * unknown has no pid to give. Empty when no row has one.
 */
export function formatPids(rows: FdRow[]): string {
  const pids = new Set<number>();
  for (const row of rows) if (row.pid !== null) pids.add(row.pid);
  return [...pids].map((pid) => `${pid}\n`).join("");
}

/**
 * The JSON object for one row: the table's fields by name (null where the table
 * shows `?`), plus socket details and leaks.
 */
export function rowJson(row: FdRow): Record<string, unknown> {
  const { fdNumber: _fdNumber, ...fields } = row;
  return fields;
}

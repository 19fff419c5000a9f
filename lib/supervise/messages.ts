/**
 * Where the supervisor's own messages go (`opsd supervise[/srv/web]: started pid
 * 1842`): its stderr in the foreground; in the background (`--detached`, no
 * terminal) a file in the state directory, rotated at 1 MiB with one old file
 * kept, so that nothing is silently lost and nothing grows without bound.
 *
 * @module
 */

import { configureSync, getLogger, type LogRecord } from "@logtape/logtape";
import { RotatingLogFile } from "./output/logfile.ts";
import { BoundedWriter } from "./output/writer.ts";
import { within } from "../within.ts";

const _MESSAGES_MAX_SIZE = 1 << 20;
const _MESSAGES_BUFFER = 1 << 20;
/** How long the last messages may take to be written when the supervisor ends, in ms. */
const _FLUSH_TIMEOUT = 1000;

/** Where messages go once {@linkcode messagesTo} was called, and whether they are stamped. */
let _target: { writer: BoundedWriter; stamped: boolean } | null = null;

/**
 * Sends every `opsd` log record, as one line naming the service, to stderr, or to
 * where {@linkcode messagesTo} sends them. Returns a function that resolves once
 * every message has been written, or after 1 s (a reader that does not read).
 */
export function configureMessages(service: string): () => Promise<void> {
  const encoder = new TextEncoder();
  const line = (record: LogRecord) => {
    const text = record.message.map((part) => String(part)).join("");
    return `opsd supervise[${record.properties.service ?? service}]: ${text}\n`;
  };
  const sink = (record: LogRecord) => {
    if (_target) {
      const stamp = _target.stamped ? `${new Date(record.timestamp).toISOString()} ` : "";
      _target.writer.push(encoder.encode(`${stamp}${line(record)}`));
      return;
    }
    try {
      Deno.stderr.writeSync(encoder.encode(line(record)));
    } catch {
      // stderr is gone (closed terminal): the status file still tells.
    }
  };
  configureSync({
    reset: true,
    sinks: { messages: sink },
    loggers: [
      { category: ["opsd"], sinks: ["messages"], lowestLevel: "info" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
  });
  return async () => {
    if (_target) await within(_target.writer.flush(), _FLUSH_TIMEOUT);
  };
}

/**
 * From now on, messages go to `writer`, each line stamped with the time when
 * `stamped`: a running supervisor's writer to its stderr, the one its services'
 * stderr is forwarded through (its loop never waits for a slow reader, and their
 * lines never tear each other), or, detached, {@linkcode messagesToFile}.
 */
export function messagesTo(writer: BoundedWriter, stamped = false): void {
  _target = { writer, stamped };
}

/**
 * From now on, messages go to the file `path` (reached through `dir`, the state
 * directory a supervisor holds open: see `LogFileOptions.dir`), stamped, rotated
 * at 1 MiB with one old file kept: a supervisor with no terminal (`--detached`).
 */
export function messagesToFile(path: string, dir?: string): void {
  const file = new RotatingLogFile({ path, dir, maxSize: _MESSAGES_MAX_SIZE, keep: 1 });
  // Messages lost to a full disk are marked once the file can be written again.
  const marker = (bytes: number) =>
    new TextEncoder().encode(
      `${new Date().toISOString()} opsd supervise: dropped ${bytes} bytes of messages: ` +
        `${path} could not be written\n`,
    );
  messagesTo(new BoundedWriter(file, { capacity: _MESSAGES_BUFFER, marker }), true);
}

/** Records a message that ends the supervisor, where its messages go (e.g. when its starter has gone). */
export function logFatal(message: string): void {
  getLogger(["opsd"]).fatal("{message}", { message });
}

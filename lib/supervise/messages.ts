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

const _MESSAGES_MAX_SIZE = 1 << 20;
const _MESSAGES_BUFFER = 1 << 20;

/** Where messages go once {@linkcode messagesToFile} was called: instead of stderr. */
let _file: BoundedWriter | null = null;

/**
 * Sends every `opsd` log record, as one line naming the service, to stderr (or,
 * after {@linkcode messagesToFile}, to that file, each line then stamped with the
 * time). Returns a function that resolves once every message has been written.
 */
export function configureMessages(service: string): () => Promise<void> {
  const encoder = new TextEncoder();
  const line = (record: LogRecord) => {
    const text = record.message.map((part) => String(part)).join("");
    return `opsd supervise[${record.properties.service ?? service}]: ${text}\n`;
  };
  const sink = (record: LogRecord) => {
    if (_file) {
      _file.push(encoder.encode(`${new Date(record.timestamp).toISOString()} ${line(record)}`));
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
  return async () => await _file?.flush();
}

/**
 * From now on, messages go to the file `path` (reached through `dir`, the state
 * directory a supervisor holds open: see `LogFileOptions.dir`), rotated at 1 MiB
 * with one old file kept: a supervisor with no terminal (`--detached`).
 */
export function messagesToFile(path: string, dir?: string): void {
  _file = new BoundedWriter(
    new RotatingLogFile({ path, dir, maxSize: _MESSAGES_MAX_SIZE, keep: 1 }),
    { capacity: _MESSAGES_BUFFER },
  );
}

/** Records a message that ends the supervisor, where its messages go (e.g. when its starter has gone). */
export function logFatal(message: string): void {
  getLogger(["opsd"]).fatal("{message}", { message });
}

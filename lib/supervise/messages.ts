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

/**
 * Sends every `opsd` log record, as one line naming the service, to stderr or
 * (with `file`) to that rotating file, each line then stamped with the time.
 * Returns a function that resolves once every message has been written.
 */
export function configureMessages(service: string, file?: string): () => Promise<void> {
  const encoder = new TextEncoder();
  const line = (record: LogRecord) => {
    const text = record.message.map((part) => String(part)).join("");
    return `opsd supervise[${record.properties.service ?? service}]: ${text}\n`;
  };
  const writer = file === undefined ? null : new BoundedWriter(
    new RotatingLogFile({ path: file, maxSize: _MESSAGES_MAX_SIZE, keep: 1 }),
    { capacity: _MESSAGES_BUFFER },
  );
  const sink = writer
    ? (record: LogRecord) => {
      writer.push(encoder.encode(`${new Date(record.timestamp).toISOString()} ${line(record)}`));
    }
    : (record: LogRecord) => {
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
  return async () => await writer?.flush();
}

/** Records a message that ends the supervisor, where its messages go (e.g. when its starter has gone). */
export function logFatal(message: string): void {
  getLogger(["opsd"]).fatal("{message}", { message });
}

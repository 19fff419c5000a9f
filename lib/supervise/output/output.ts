/**
 * Everything a supervised service writes: the pipes on its fds 1 and 2, the output
 * tail, and where complete lines go — a rotating, timestamped log file when
 * `log-file` is set, else the supervisor's own stdout and stderr. A slow or stuck
 * destination never holds the service up: the pipes are drained, and what it
 * cannot take is dropped (and counted). Output faster than a destination that
 * keeps making progress is paced through the pipe instead of queued (see
 * `PipeHandlers.behind`).
 *
 * The pipes are made once per service and kept open by the supervisor, so
 * nothing is lost between restarts and the readers never see end of file until
 * the supervisor itself closes them.
 *
 * @module
 */

import type { ServiceSettings } from "../../service/settings.ts";
import { errorReason } from "../../file_error.ts";
import { O } from "../../sys/constants.ts";
import { close, pipe2 } from "../../sys/libc.ts";
import { RotatingLogFile } from "./logfile.ts";
import { PIPE_BUFFER_SIZE, type PipeReader, readPipe } from "./pipe.ts";
import { StampMemory } from "./stamp.ts";
import { TailBuffer } from "./tail.ts";
import { BoundedWriter } from "./writer.ts";

/** The settings that shape a service's output. */
export type OutputSettings = Pick<
  ServiceSettings,
  "tailBytes" | "logFile" | "logMaxSize" | "logKeep" | "logBuffer"
>;

/** Where a {@linkcode ServiceOutput}'s fds come from and where its lines go. */
export interface OutputOptions {
  settings: OutputSettings;
  /** The supervisor's own stdout and stderr, for lines when there is no log file. */
  forward: { out: BoundedWriter; err: BoundedWriter };
  /** An fd open on /dev/null, the service's stdin unless `stdin` is given. */
  devNull: number;
  /** The service's stdin instead of /dev/null (a log service reads the log pipe). */
  stdin?: number;
  /** The service's stdout instead of a pipe read here (the log pipe to a log service). */
  stdout?: number;
  /**
   * How the log file's directory is reached, when not by its path: the state
   * directory the supervisor holds open, for a log file in it (see `LogFileOptions.dir`).
   */
  logDir?: string;
  /** Called after the output tail or the count of dropped bytes changed. */
  onChange(): void;
  /**
   * Called when writing the log file failed (the lines are dropped and counted),
   * or reading a pipe did (its output is then lost).
   */
  onError(error: Error): void;
}

const _encoder = new TextEncoder();

/** How long {@linkcode ServiceOutput.settle} waits at most for the pipes to empty, in ms. */
export const SETTLE_TIMEOUT = 150;

/** Which stream a service's output tail is of (see {@linkcode ServiceOutput.lastOutput}). */
export type TailStream = "stderr" | "stdout";

/** The output side of one service: its fds 0-2, its output tail, its log. */
export class ServiceOutput {
  readonly fds: readonly [number, number, number];
  /** The last bytes of stderr. */
  #errTail: TailBuffer;
  /** The last bytes of stdout, where it is read here (not the pipe to a log/ service). */
  #outTail: TailBuffer | null;
  #options: OutputOptions;
  #log: BoundedWriter | null;
  #logFile: RotatingLogFile | null;
  /** For a log file: where the pipes are read into and their lines stamped, then written from. */
  #memory: StampMemory | null;
  #ownedWriteEnds: number[] = [];
  #readers: PipeReader[] = [];
  #reading: Promise<void>[] = [];
  /** Bytes of this service's lines the forwarding writers lost (their reader fell behind or is gone). */
  #forwardDropped = 0;
  #reportedDrops = 0;

  constructor(options: OutputOptions) {
    this.#options = options;
    const { settings } = options;
    this.#errTail = new TailBuffer(settings.tailBytes);
    this.#outTail = options.stdout === undefined ? new TailBuffer(settings.tailBytes) : null;
    this.#logFile = settings.logFile
      ? new RotatingLogFile({
        path: settings.logFile,
        dir: options.logDir,
        maxSize: settings.logMaxSize,
        keep: settings.logKeep,
      })
      : null;
    const memory = this.#logFile ? _stampMemory(settings.logBuffer) : null;
    this.#memory = memory;
    this.#log = this.#logFile && memory
      ? new BoundedWriter(this.#logFile, {
        capacity: settings.logBuffer,
        stamp: memory,
        marker: (bytes) =>
          this.#line(`dropped ${bytes} bytes of output: the log file fell behind or failed`),
        onError: (error) => {
          options.onError(
            new Error(
              `log file ${settings.logFile}: ${errorReason(error)}: its lines are dropped ` +
                "(counted in status) until it can be written again",
            ),
          );
          this.#noteDrops();
        },
      })
      : null;
    const stdout = options.stdout ?? this.#pipe("out");
    const stderr = this.#pipe("err");
    this.fds = [options.stdin ?? options.devNull, stdout, stderr];
  }

  /**
   * The last bytes the service wrote, for `opsd status` and `opsd tail`: of stderr,
   * where errors go; of stdout while stderr has had nothing since the supervisor
   * started (a run that did `exec 2>&1` says why it fails on stdout), when stdout
   * is read here and not by a log/ service.
   */
  lastOutput(): { text: string; stream: TailStream } {
    if (!this.#errTail.empty || this.#outTail === null) {
      return { text: this.#errTail.text(), stream: "stderr" };
    }
    return { text: this.#outTail.text(), stream: "stdout" };
  }

  /**
   * Bytes of output lost so far because the log file fell behind or failed, or,
   * without one, because whoever reads the supervisor's stdout or stderr fell
   * behind or is gone.
   */
  get droppedBytes(): number {
    return (this.#log?.dropped ?? 0) + this.#forwardDropped;
  }

  /** Writes a line from opsd itself (`opsd started pid 1842`) to the log file, if there is one. */
  event(text: string): void {
    this.#log?.push(this.#line(text));
  }

  /**
   * Called when the service's main process exited, before its exit is logged:
   * waits (at most {@linkcode SETTLE_TIMEOUT} ms) until each pipe read here is empty
   * and its lines handed on, so that everything the process wrote comes before the
   * `exited` line, then ends a partial last line with a newline, so that it is
   * logged now as a line of its own instead of glued to the next run's output, and
   * stands alone in the output tail too.
   *
   * The pipes are shared by every process of the service: a process it left
   * behind that still writes may keep a pipe from emptying (its partial line is
   * then left alone), and one that is quiet may have its own partial line ended
   * here too. Ending lines at the exit of the main process is the choice made.
   */
  async settle(): Promise<void> {
    await Promise.all(this.#readers.map((reader) => reader.settle(SETTLE_TIMEOUT)));
  }

  /**
   * Closes the supervisor's ends of the pipes, waits until every reader has seen
   * end of file (once the service's processes are gone), and writes what is queued.
   */
  async close(): Promise<void> {
    for (const fd of this.#ownedWriteEnds.splice(0)) close(fd);
    await Promise.all(this.#reading);
    await this.#log?.flush();
    this.#logFile?.close();
  }

  /** A pipe whose write end the service gets as fd 1 or 2 and whose read end is read here. */
  #pipe(stream: "out" | "err"): number {
    const [reader, writer] = pipe2(O.CLOEXEC);
    this.#ownedWriteEnds.push(writer);
    const forward = this.#options.forward[stream];
    const tail = stream === "err" ? this.#errTail : this.#outTail;
    const reading = readPipe(reader, {
      onBytes: tail && tail.size > 0
        ? (chunk) => {
          tail.push(chunk);
          // stdout's tail is shown (and the status written again) only while stderr's is empty.
          if (stream === "err" || this.#errTail.empty) this.#options.onChange();
        }
        : undefined,
      onLines: (lines) => {
        if (!this.#log) {
          this.#forwardDropped += forward.push(lines, this.#forwardLost);
        } else this.#log.pushStamped(lines, _prefix(stream));
        this.#noteDrops();
      },
      behind: () => (this.#log ?? forward).behind(),
    }, { buffer: this.#memory?.inputs[stream === "out" ? 0 : 1] });
    this.#readers.push(reading);
    this.#reading.push(reading.done.catch((error) => {
      this.#options.onError(new Error(`reading std${stream}: ${(error as Error).message}`));
    }));
    return writer;
  }

  /** Counts this service's lines a forwarding writer lost to a failed write. */
  #forwardLost = (bytes: number): void => {
    this.#forwardDropped += bytes;
    this.#noteDrops();
  };

  /** Tells the service when the count of dropped bytes moved: its status shows it. */
  #noteDrops(): void {
    const dropped = this.droppedBytes;
    if (dropped === this.#reportedDrops) return;
    this.#reportedDrops = dropped;
    this.#options.onChange();
  }

  #line(text: string): Uint8Array {
    return _encoder.encode(`${new Date().toISOString()} opsd ${text}\n`);
  }
}

/** The biggest chunk a log file's writer fills and writes at once. */
const _LOG_BLOCK = 1 << 20;

/**
 * The memory a service's output goes through on its way to a log file: a buffer
 * for each pipe, and blocks for `capacity` bytes of stamped lines waiting to be
 * written, and one more (a block being filled is seldom full when it is queued).
 */
function _stampMemory(capacity: number): StampMemory {
  const blockSize = Math.min(_LOG_BLOCK, capacity);
  return new StampMemory({
    inputs: 2,
    inputSize: PIPE_BUFFER_SIZE,
    blocks: Math.ceil(capacity / blockSize) + 1,
    blockSize,
  });
}

/** `2025-11-21T08:06:02.123Z out ` — the same timestamp for every line of one chunk. */
function _prefix(stream: "out" | "err"): Uint8Array {
  return _encoder.encode(`${new Date().toISOString()} ${stream} `);
}

/**
 * The control socket protocol: a unix stream socket in the state directory
 * (mode 0600, so only the owner controls the service), one JSON request per line,
 * one JSON reply per line.
 *
 * ```
 * > {"command":"down"}
 * < {"ok":true,"status":{...}}
 * > {"command":"status"}
 * < {"ok":true,"status":{...}}
 * > hello
 * < {"ok":false,"error":"bad request: expected one JSON object per line, such as {\"command\":\"up\"}"}
 * ```
 *
 * Every request gets a reply once the supervisor has applied it; a bad one gets an
 * error reply and the connection stays usable. A supervisor that exits answers
 * every request it has read before it closes the connection.
 *
 * @module
 */

import { ExitCode, OpsdError } from "../errors.ts";
import type { ServicePaths } from "../service/paths.ts";
import { O } from "../sys/constants.ts";
import { close, open } from "../sys/libc.ts";
import {
  controlPath,
  isStateDirAt,
  type PinnedStateDir,
  readStatusOrNull,
  runningSupervisor,
} from "./state.ts";
import { lateLogAdvice, lateLogOf, superviseAgainCommand } from "./late_log.ts";
import type { ServiceStatus } from "./status.ts";
import { type ControlWord, isControlWord } from "./words.ts";
import { shellQuote, suggestCommand } from "../text/command.ts";
import { fileError } from "../file_error.ts";
import { errorCode } from "../sys/errno.ts";
import { delay, within } from "../within.ts";

/** A request: a control word, or `status` for the live status record. */
export interface ControlRequest {
  command: ControlWord | "status";
}

/** A reply: the status after the request was applied, or why it was refused. */
export type ControlReply =
  | { ok: true; status: ServiceStatus }
  | { ok: false; error: string };

const _MAX_LINE = 64 * 1024;
/**
 * The longest reply read: a status with the largest tail (`tail-bytes` 1 MiB), every byte
 * a control character escaped in six (`\u001b`), with room to spare.
 */
const _MAX_REPLY = 16 << 20;
/** How long closing waits for replies to requests already read (a client that does not read them). */
const _CLOSE_WAIT = 1000;
const _encoder = new TextEncoder();

/**
 * Parses one request line; returns the request, or the error reply for a line
 * that is not one.
 */
export function parseRequest(line: string): ControlRequest | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return {
      error: 'bad request: expected one JSON object per line, such as {"command":"up"}',
    };
  }
  const command = (value as { command?: unknown } | null)?.command;
  if (typeof command !== "string" || (command !== "status" && !isControlWord(command))) {
    return {
      error: `unknown command ${
        JSON.stringify(command ?? null)
      }: expected status or a control word`,
    };
  }
  return { command };
}

/** A listening control socket. */
export interface ControlServer {
  /**
   * Stops listening, removes the socket file and reads no more requests; resolves once
   * every request already read has been answered and its connection closed.
   */
  close(): Promise<void>;
}

/** One client's connection as the server serves it. */
interface _Served {
  connection: Deno.Conn;
  /** Waiting for the client's next request: nothing read is left unanswered. */
  reading: boolean;
  /** The server is closing: read no more. */
  closing: boolean;
}

/**
 * Listens on a service's control socket, `control` in the state directory its
 * supervisor holds (`pinned`, replacing a stale socket file there), and answers each
 * request line with `handle`'s reply. The socket is made in the directory that was
 * locked, and removed from it, not from whatever is at the directory's path by then.
 */
export function serveControl(
  paths: ServicePaths,
  pinned: PinnedStateDir,
  handle: (request: ControlRequest) => Promise<ControlReply>,
): ControlServer {
  const held = `${pinned.path}/control`;
  const { listener, socket, bound } = _makeSocket(paths, pinned);
  const connections = new Map<_Served, Promise<void>>();
  let closing = false;
  const accepting = (async () => {
    for await (const connection of listener) {
      const served: _Served = { connection, reading: false, closing };
      connections.set(
        served,
        _serveConnection(served, handle).finally(() => connections.delete(served)),
      );
    }
  })().catch(() => {
    // The listener was closed.
  });
  return {
    async close() {
      closing = true;
      // Deno unlinks the path a listener was bound at when it lets go of it (once the
      // accept pending on it has ended, a moment after close): our socket's removal while
      // that path names it. Moved, it is removed through the pin. Once the path names
      // another's (the service directory removed and made again, a new supervisor there),
      // closing would remove that one: the listener is left open (reading nothing) until
      // this process, which is ending, ends.
      const there = _socketAt(bound, socket);
      if (there !== "ours" && _socketAt(held, socket) === "ours") Deno.removeSync(held);
      if (there !== "another") {
        listener.close();
        await accepting;
      }
      for (const served of connections.keys()) {
        served.closing = true;
        // One waiting for a request holds none: closed now. The others end after their replies.
        if (served.reading) _closeQuietly(served.connection);
      }
      await within(Promise.all(connections.values()), _CLOSE_WAIT);
      for (const served of connections.keys()) _closeQuietly(served.connection);
    },
  };
}

/**
 * Makes the control socket (mode 0600), replacing whatever file is at its path, or
 * throws one line naming the socket's real path and what to do (a directory in its
 * place is not removed: opsd did not make it).
 */
function _makeSocket(paths: ServicePaths, pinned: PinnedStateDir): _Listening {
  const path = `${pinned.path}/control`;
  try {
    try {
      Deno.removeSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const made = _listen(paths, pinned);
    Deno.chmodSync(path, 0o600);
    return made;
  } catch (error) {
    const named = controlPath(paths), code = errorCode(error);
    if (code === "ENOTEMPTY" || code === "EISDIR") {
      throw new OpsdError(
        `cannot make the control socket ${named}: a directory is in its place: remove it ` +
          `(rm -r ${shellQuote(named)}) and start the supervisor again`,
        ExitCode.failure,
        { cause: error },
      );
    }
    throw fileError("make the control socket", named, error);
  }
}

/** A listening control socket: its file as made, and the path it was bound at. */
interface _Listening {
  listener: Deno.Listener;
  socket: Deno.FileInfo;
  bound: string;
}

/**
 * Binds the control socket in the state directory `pinned` holds: by its path when
 * that fits in a socket address and still names that directory, for the address is
 * the name `ss`, lsof and `opsd fds --unix` show and look for; else (a long path, or
 * a directory moved meanwhile) through the pin (`/proc/self/fd/N/control`).
 */
function _listen(paths: ServicePaths, pinned: PinnedStateDir): _Listening {
  const held = `${pinned.path}/control`, named = controlPath(paths);
  if (_encoder.encode(named).length <= _SUN_PATH_MAX && isStateDirAt(paths, pinned)) {
    let listener: Deno.Listener | null = null;
    try {
      listener = Deno.listen({ transport: "unix", path: named });
      // Not there (NotFound): the directory was moved as it was bound, the socket made elsewhere.
      return { listener, socket: Deno.lstatSync(held), bound: named };
    } catch {
      // Moved, or its path closed to opsd meanwhile: the pin still reaches it (a lasting
      // failure, such as EADDRINUSE, fails there again and is thrown).
      listener?.close();
    }
  }
  const listener = Deno.listen({ transport: "unix", path: held });
  return { listener, socket: Deno.lstatSync(held), bound: held };
}

/**
 * What `path` names: the socket file made (`made`), another file (once the service
 * directory was removed and made again, a new supervisor's, which must stay
 * reachable), or nothing.
 */
function _socketAt(path: string, made: Deno.FileInfo): "ours" | "another" | "none" {
  try {
    const now = Deno.lstatSync(path);
    return now.ino === made.ino && now.dev === made.dev ? "ours" : "another";
  } catch {
    return "none"; // Gone, or its directory moved or removed.
  }
}

/** Answers each request read from one connection, in order, until it ends or the server closes. */
async function _serveConnection(
  served: _Served,
  handle: (request: ControlRequest) => Promise<ControlReply>,
): Promise<void> {
  const { connection } = served;
  try {
    for await (const line of _lines(connection, _MAX_LINE, served)) {
      if (line === null) {
        await _send(connection, { ok: false, error: `request longer than ${_MAX_LINE} bytes` });
        break;
      }
      if (line.trim() === "") continue;
      const request = parseRequest(line);
      const reply = "error" in request
        ? { ok: false as const, error: request.error }
        : await handle(request);
      await _send(connection, reply);
    }
  } catch {
    // The client went away mid-reply.
  } finally {
    _closeQuietly(connection);
  }
}

/**
 * The lines read from `connection` (a last one without its newline too, as
 * `printf '{"command":"up"}' | socat - UNIX:control` sends it); null for a line
 * longer than `max` characters (then it stops). With `served`, it marks when it
 * waits to read, and once the server is closing it yields the whole lines already
 * read, then stops.
 */
async function* _lines(
  connection: Deno.Conn,
  max: number,
  served?: _Served,
): AsyncGenerator<string | null> {
  const decoder = new TextDecoder();
  let pending = "";
  const buffer = new Uint8Array(65536);
  for (;;) {
    if (served?.closing) return;
    if (served) served.reading = true;
    const count = await connection.read(buffer).finally(() => {
      if (served) served.reading = false;
    });
    if (count === null) {
      if (pending !== "") yield pending;
      return;
    }
    // Only what was just read is searched: a long line costs no more than its length.
    const text = decoder.decode(buffer.subarray(0, count), { stream: true });
    let start = 0;
    for (let newline = text.indexOf("\n"); newline >= 0; newline = text.indexOf("\n", start)) {
      yield pending + text.slice(start, newline);
      pending = "";
      start = newline + 1;
    }
    pending += text.slice(start);
    if (pending.length > max) {
      yield null;
      return;
    }
  }
}

async function _send(connection: Deno.Conn, message: ControlRequest | ControlReply): Promise<void> {
  const bytes = _encoder.encode(`${JSON.stringify(message)}\n`);
  for (let offset = 0; offset < bytes.length;) {
    offset += await connection.write(bytes.subarray(offset));
  }
}

function _closeQuietly(connection: Deno.Conn): void {
  try {
    connection.close();
  } catch {
    // Already closed.
  }
}

/** How long a control word waits for the supervisor's answer (ms). */
export const ANSWER_TIMEOUT = 5000;

/**
 * Sends `request` to the service's supervisor and returns its reply. Throws exit 3
 * (not running) when no supervisor holds the service's lock, it does not listen, or
 * it exits without answering; exit 1 when it closes the connection without answering
 * but still holds the lock, or answers with something that is not a reply; exit 6
 * when it does not answer within `timeout` ms.
 */
export async function sendControl(
  paths: ServicePaths,
  request: ControlRequest,
  timeout = ANSWER_TIMEOUT,
): Promise<ControlReply> {
  if (runningSupervisor(paths) === null) throw _notRunning(paths, request.command);
  let connection: Deno.UnixConn;
  try {
    connection = await _connect(paths);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.ConnectionRefused) {
      const { detail, ending } = _notListening(paths);
      throw _notRunning(paths, request.command, detail, ending);
    }
    throw error;
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    _closeQuietly(connection);
  }, timeout);
  /** The reply line (null: one too long to be a reply), or undefined for none. */
  let answer: string | null | undefined;
  let cause: unknown;
  try {
    await _send(connection, request);
    for await (const line of _lines(connection, _MAX_REPLY)) {
      answer = line;
      break;
    }
  } catch (error) {
    cause = error;
  } finally {
    clearTimeout(timer);
    _closeQuietly(connection);
  }
  if (timedOut) throw new OpsdError(_noAnswer(paths, timeout), ExitCode.timeout, { cause });
  if (answer === undefined) {
    // Closed with nothing said, maybe before it read the request: not a timeout.
    if (await supervisorEndsWithin(paths, _EXIT_GRACE)) {
      throw _notRunning(paths, request.command, " (it exited without answering)", true);
    }
    throw new OpsdError(
      `the supervisor of ${paths.path} closed the connection without answering (it may have ` +
        `exited): check with ${suggestCommand("opsd", "status", paths.path)}`,
      ExitCode.failure,
      { cause },
    );
  }
  return _parseReply(paths, answer);
}

/**
 * The reply in a line the supervisor sent (null: one too long to be a reply); exit 1
 * for a line that is not one.
 */
function _parseReply(paths: ServicePaths, line: string | null): ControlReply {
  let reply: unknown;
  try {
    reply = line === null ? null : JSON.parse(line);
  } catch {
    // Handled below.
  }
  const ok = (reply as { ok?: unknown } | null)?.ok;
  if (typeof reply !== "object" || reply === null || typeof ok !== "boolean") {
    throw new OpsdError(
      `the supervisor of ${paths.path} answered with something that is not a control reply ` +
        `(an opsd of another version?): check with ${suggestCommand("opsd", "status", paths.path)}`,
      ExitCode.failure,
    );
  }
  return reply as ControlReply;
}

/** Room for a path in `struct sockaddr_un` (108 bytes, with the final NUL). */
const _SUN_PATH_MAX = 107;

/**
 * Connects to the service's control socket: by its path, or — when that is too
 * long for a unix socket address — through an open fd of the state directory
 * (`/proc/self/fd/N/control`), which the kernel resolves alike.
 */
async function _connect(paths: ServicePaths): Promise<Deno.UnixConn> {
  const path = controlPath(paths);
  if (_encoder.encode(path).length <= _SUN_PATH_MAX) {
    return await Deno.connect({ transport: "unix", path });
  }
  const dir = open(paths.stateDir, O.RDONLY | O.CLOEXEC);
  try {
    return await Deno.connect({ transport: "unix", path: `/proc/self/fd/${dir}/control` });
  } finally {
    close(dir);
  }
}

/** The supervisor got the request (it may still carry it out) but did not answer in time. */
function _noAnswer(paths: ServicePaths, timeout: number): string {
  // To a tenth of a second: what is left of a --timeout is a few ms short of it (0.499 s).
  return `the supervisor of ${paths.path} did not answer within ${
    Math.round(timeout / 100) / 10
  } s; it may still ` +
    `carry out the request: check with ${suggestCommand("opsd", "status", paths.path)}`;
}

/** How long a supervisor that closed a connection unanswered is given to let go of its lock (ms). */
const _EXIT_GRACE = 250;

/**
 * Whether the service's supervisor (`pid`, or whichever holds the lock) lets go of its
 * lock within `ms` (Infinity: as long as it takes), looking every 10 ms at first, every
 * 50 ms after a while. One that closes its control socket on its way out does so a
 * moment before it releases the lock; one that takes its services down first lets go
 * once they are down. A new supervisor that took the lock meanwhile is not waited for.
 */
export async function supervisorEndsWithin(
  paths: ServicePaths,
  ms: number,
  pid?: number,
): Promise<boolean> {
  const deadline = Date.now() + ms;
  let interval = 10;
  for (;;) {
    const holder = runningSupervisor(paths);
    if (holder === null || (pid !== undefined && holder !== pid && holder !== -1)) return true;
    if (Date.now() >= deadline) return false;
    await delay(Math.min(interval, deadline - Date.now()));
    interval = Math.min(50, interval * 2);
  }
}

/**
 * Why a supervisor that held the lock did not take the connection: it has exited
 * since, it is exiting (and why, from its record), or it is starting; `ending` for
 * the first two.
 */
function _notListening(paths: ServicePaths): { detail: string; ending: boolean } {
  const holder = runningSupervisor(paths);
  if (holder === null) return { detail: " (it exited just now)", ending: true };
  const why = _exitingWhy(paths, holder);
  return why
    ? {
      detail: ` (the last one, pid ${holder}, is exiting (${why}) and no longer listens)`,
      ending: true,
    }
    : {
      detail: " (it holds the lock but does not listen yet: it is starting; try again)",
      ending: false,
    };
}

/** Why supervisor `holder` is exiting, as its record says; null when not (or unreadable). */
function _exitingWhy(paths: ServicePaths, holder: number): string | null {
  const record = readStatusOrNull(paths);
  return record?.supervisor.pid === holder ? record.supervisor.exiting ?? null : null;
}

/** The command that supervises the service again as its last supervisor did (`--daemon`). */
function _superviseAgain(paths: ServicePaths): string {
  return superviseAgainCommand(paths.path, readStatusOrNull(paths)?.supervisor.detached ?? false);
}

/**
 * No supervisor answered because the one there was ending: it exited without
 * answering, or is exiting and no longer listens (exit 3). For `exit`, what was asked
 * for is happening.
 */
export class SupervisorEnding extends OpsdError {}

/**
 * No supervisor runs for `paths` (`detail` says more): the error `command` fails with,
 * with what to do — start one; for `down` and `exit`, whose aim is a service that does
 * not run, see whether anything of it runs.
 */
function _notRunning(
  paths: ServicePaths,
  command: ControlRequest["command"],
  detail = "",
  ending = false,
): OpsdError {
  const service = lateLogOf(paths);
  const advice = service
    ? `it is the log/ of ${service.path}, made after that service's supervisor started: ` +
      lateLogAdvice(service)
    : command === "down" || command === "exit"
    ? `nothing to take down here; ${suggestCommand("opsd", "status", paths.path)} says whether ` +
      `processes of it still run (with --ok-if-stopped, opsd ${command} takes none running as done)`
    : `start one with ${_superviseAgain(paths)}`;
  const message = `no supervisor running for ${paths.path}${detail}: ${advice}`;
  return ending
    ? new SupervisorEnding(message, ExitCode.notRunning)
    : new OpsdError(message, ExitCode.notRunning);
}

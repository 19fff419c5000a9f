/**
 * `opsd fds`: what processes hold open, who holds a port, a file or a unix
 * socket, and which fds look leaked. lsof's columns and selectors, plus a
 * close-on-exec column; see `lib/fds/scan.ts` for how selectors combine.
 *
 * @module
 */

import { ExitCode } from "../lib/errors.ts";
import { parseDuration } from "../lib/duration.ts";
import { CommandLineError } from "../lib/cli/error.ts";
import { defineCommand } from "../lib/cli/spec.ts";
import { intValue, listValue, nonEmptyValue } from "../lib/cli/values.ts";
import { writeJson, writeOut, writeProblem } from "../lib/cli/output.ts";
import { escapeText } from "../lib/text/escape.ts";
import { userId } from "../lib/procfs/users.ts";
import type { FdsScan } from "../lib/fds/scan.ts";
import type { FdsPlan } from "../lib/fds/plan.ts";
import type { PortRange } from "../lib/procfs/net.ts";

/** `--leak-age` when not given: younger processes are not reported for `no-cloexec`. */
const _LEAK_AGE_MS = 60_000;

/** The `fds` command. */
export function fdsCommand() {
  return defineCommand({
    name: "fds",
    summary: "list open files and sockets: who holds a port, a file, leaked fds",
    description:
      "List the open fds of processes with lsof's columns, plus CLOEXEC: who holds a port, " +
      "a file or a unix socket, what a process holds, and which sockets look leaked.",
    operands: [{
      name: "files",
      help: "the same as --path FILE (lsof FILE)",
      variadic: true,
    }],
    options: {
      pid: {
        short: "p",
        value: "pid",
        help: "processes with this pid (repeatable, or a list: 1,2; a thread id is no " +
          "process)",
        parse: listValue<number>(intValue(1, 2 ** 31 - 1)),
        repeat: true,
      },
      command: {
        short: "c",
        value: "name",
        help:
          "processes whose command name starts with NAME (repeatable; the kernel keeps 15 bytes of a name: a longer NAME is matched against the program's or script's file name)",
        parse: nonEmptyValue("a command name"),
        repeat: true,
      },
      user: {
        short: "u",
        value: "user",
        help: "processes of this user (login name or uid; repeatable, or a list: www,33); " +
          "^USER leaves that user's out (as lsof -u ^root)",
        parse: listValue<_UserChoice>(_userValue),
        repeat: true,
      },
      port: {
        value: "port",
        help: "TCP and UDP sockets with this local or remote port, or one in a range " +
          "FIRST-LAST (repeatable, or a list: 80,443)",
        parse: listValue<PortRange>(_portRange),
        repeat: true,
      },
      tcp: { help: "TCP sockets only (without --port: every TCP socket)" },
      udp: { help: "UDP sockets only (without --port: every UDP socket)" },
      listen: {
        help: "listening sockets only: TCP LISTEN, UDP bound and unconnected, unix LISTEN " +
          "or datagram bound and connected to none " +
          "(without --port/--unix: every listener)",
      },
      path: {
        value: "file",
        help: "fds open on FILE, and FILE as cwd, root or program; a unix socket file: the " +
          "sockets bound there, as --unix; a mount point: every file open on its filesystem " +
          "(repeatable)",
        parse: nonEmptyValue("a file"),
        repeat: true,
      },
      dir: {
        value: "dir",
        help: "the files in the directory tree DIR (lsof +D): fds, cwd, root, program and " +
          "mapped files named as DIR or below it (removed ones too), and the unix sockets " +
          "bound below it; found by name, without stat'ing the tree (repeatable)",
        parse: nonEmptyValue("a directory"),
        repeat: true,
      },
      unix: {
        value: "path",
        help: "unix sockets bound to PATH (repeatable)",
        parse: nonEmptyValue("a socket path"),
        repeat: true,
      },
      allNetns: {
        help: "with --port, --listen or --unix: sockets of other network namespaces (containers) " +
          "count as a match too (they are listed either way; other listings count them already)",
      },
      leaks: { help: "only socket fds that look leaked, each with the reason" },
      leakAge: {
        value: "duration",
        help: "with --leaks: report sockets without close-on-exec in processes this old " +
          "(default: 60s)",
        parse: parseDuration,
      },
      json: { help: "one JSON object per row (the same fields), one per line" },
      terse: {
        short: "t",
        help: "print only the pids of the processes listed, each once, one per line " +
          "(lsof -t): kill $(opsd fds -t --port 8080)",
      },
      quiet: { short: "q", help: "print nothing: the exit status says whether anything matched" },
    },
    after: `
Columns: COMMAND PID USER FD TYPE CLOEXEC DEVICE SIZE/OFF NODE NAME, as lsof
prints them. FD is the fd number, or cwd, rtd (root directory), txt (program), mem
or DEL (a file mapped, or mapped and removed: with --path or --dir),
NOFD (fds unreadable, reason in NAME), followed by the mode (r, w, u = both)
and the lock (R/W whole file, r/w part of it, u read and write). CLOEXEC says
whether the fd is closed when the process execs (yes/no). Control characters
in COMMAND, USER and NAME are escaped as lsof escapes them (\\n, \\t, ^[ for
ESC, \\xNN, \\\\), and so are spaces in COMMAND and USER (\\x20); --json is raw. A file
name that is not UTF-8 keeps its bytes: \\xNN in the table (as lsof), \\udcNN in --json
(mapped files' names and command names show such a byte as U+FFFD).

Selectors come in three groups, which combine with AND (lsof -a): a row must
belong to a selected process (--pid, -c, -u), be one of the files named (--port,
--path, --dir, --unix: any of them, repeats widen) and pass the socket filters
(--tcp, --udp, --listen: they narrow what the others selected; --tcp --udp is
either; without --port or --unix, every such socket: --listen alone lists every
TCP, UDP and unix listener). Without selectors every process and fd is listed.
A file is no socket, nor a unix socket TCP or UDP: --path passes none of the
filters, --unix only --listen, --port all (--port P --unix X --tcp is the TCP
sockets of P). A --path naming a unix socket file names the sockets bound
there and passes as --unix does (--path /run/app.sock --listen: the listener).
A --dir names the unix sockets bound below DIR too: --dir DIR --listen is the
unix listeners there. Where nothing named could pass them (--path naming files
with --tcp, --udp or --listen; --unix, --dir or a socket file's --path with --tcp
or --udp; no --port), it is a usage error.

--dir DIR answers lsof +D DIR by name, without stat'ing the tree: DIR is
resolved once (symlinks, .., a trailing slash), and an fd, cwd, root directory,
program or mapped file matches when the kernel names it DIR or DIR/... (not
DIR-old/...), removed files ("(deleted)", "DEL") and a removed DIR included: who
still holds the space after an rm -rf. A file under DIR opened through another
name (a hard link, a bind mount elsewhere) is not found; a filesystem mounted
below DIR is part of the tree (lsof +D: with -x f); a process in another mount
namespace is matched by the names it sees. For a mount point's whole
filesystem (umount: target is busy) use --path MOUNTPOINT.

opsd reads one link per fd and never stats the fds of a port or unix-socket
query, nor any file on a network or FUSE filesystem (no hang on a dead NFS
mount: such rows show TYPE unknown and the mount after the path). Other files
are stat'ed with AT_STATX_DONT_SYNC.

Examples:
  opsd fds --port 8080 --listen     who listens on port 8080 (TCP or UDP, IPv4/6)
  opsd fds -p 1234                  everything process 1234 holds
  opsd fds -c nginx --tcp           the TCP sockets of processes named nginx*
  opsd fds -u www-data              everything www-data's processes hold
  opsd fds --path /var/log/app.log  who has this file open (also: opsd fds /var/log/app.log)
  opsd fds --dir /var/log/app       who holds files in this tree (lsof +D)
  opsd fds --unix /run/app.sock     who holds this unix socket
  opsd fds --leaks                  duplicated sockets, listeners inherited by other programs, sockets without close-on-exec
  if opsd fds -q --port 9999; then echo taken; fi
  kill $(opsd fds -t --port 9999 --listen)   -t: only the pids, as lsof -t

Differences from lsof: OFD locks show as lock letters, and flock/OFD locks show
on every fd sharing the locked open file (lsof: never for OFD locks, flock only
in the process that took it); the CLOEXEC column; COMMAND is not cut to 9
characters; -c takes a NAME longer than 15 bytes (lsof refuses it);
memory-mapped files (mem, DEL rows) only with --path or --dir; selectors
combine with AND (lsof -a); a namespace file is named by its link
(net:[4026531833]; lsof: net); an O_PATH fd has no mode letter (lsof: u).
--dir (lsof +D) stats nothing below DIR, finds removed files and a removed DIR
but no file opened under another name, names files as the kernel does (lsof: as
DIR was typed), and exits 0 when something matched (lsof +D exits 1 unless
every file and directory in the tree, DIR included, is open).
--path on a unix socket file lists the sockets bound there, as lsof does, also
through a symlink (followed, as for any file; lsof: only the name bound).
--path on a mount point lists every file open on its filesystem, as lsof does
(who keeps it busy); on a bind mount of a subdirectory, that directory alone.
Without root, other users' processes cannot be inspected: a port or file query
says how many it skipped; a process listing shows NOFD rows, as lsof does. A
TCP, UDP or unix socket that matches but that no inspectable process holds
(another user's; as root, one held from another pid namespace or by the kernel)
still shows, as ss shows it: COMMAND, PID and FD ? (null in --json), USER the
socket's owner (for a unix socket from sock_diag; ? where that cannot tell: in
another network namespace, or without sock_diag). So -q --port P and
-q --unix PATH answer whether P or PATH is taken, for any user. Root without
CAP_SYS_PTRACE lists other users' fds without reading them: a row per fd with
"(readlink: Permission denied)", as lsof shows it. With -q, the note on what
could not be inspected is printed only when nothing matched (exit 1); with -t
(which implies lsof's -w, as lsof -t does), also when a socket matched has no pid.

Sockets of processes in other network namespaces (containers) are listed too,
marked " (netns N)" after NAME (netns in --json). They take no port or abstract
unix name in opsd's namespace: with --port, --listen or --unix the exit status
counts only sockets of opsd's own network namespace, and unix sockets bound to
a path (taken for everybody); --all-netns counts the others too. Other
listings, and --leaks, count every namespace's sockets: --all-netns is a usage
error there.

Who holds a socket: as root on a kernel with BTF, from 1000 processes up, opsd
asks the kernel through a BPF iterator instead of reading every fd link (see
README: Speed); elsewhere it walks /proc as lsof does. Both give the same rows.

Environment: OPSD_FDS_BPF=0 always walks /proc, =1 always asks the kernel
(one line and exit 1 when it cannot). OPSD_FDS_WORKERS=N walks /proc with N
extra threads, at most 7 (default, or anything but a number: from 1000 processes
up, as many idle CPUs as repay their start; 0 keeps opsd on one CPU).

Exit codes: 0 something matched (with --leaks: a leak was found; with --port,
--listen or --unix: in opsd's network namespace), 1 nothing matched (stderr
says so for a --path that names no file, a --dir that names nothing, a --unix
that names no file or a file that is no socket, and for a --pid that is no process, a zombie or a thread of
another process, which is left out), 2 usage error (bad port, pid, user or flag, an
empty --path, --dir, --unix or -c, a --dir that is no directory, selectors that
could never match together,
--leak-age without --leaks, --all-netns without --port, --listen or --unix, or
with --leaks, -t with --json).`,
    run: async (flags, files) => {
      if (files.includes("")) {
        throw new CommandLineError(
          "FILE: expected a file, not an empty string (an unset variable?)",
        );
      }
      // FILE operands are --path FILE, as lsof takes them.
      const options = {
        ...flags,
        pid: flags.pid.flat(),
        user: flags.user.flat(),
        port: flags.port.flat(),
        path: [...flags.path, ...files],
      };
      if (options.leakAge !== undefined && !options.leaks) {
        throw new CommandLineError(
          "--leak-age needs --leaks: add --leaks to look for leaked sockets",
        );
      }
      if (options.allNetns) _checkAllNetns(options);
      if (options.terse && options.json) {
        throw new CommandLineError("-t prints pids and --json rows: choose one");
      }
      const { planFds } = await import("../lib/fds/plan.ts");
      const plan = planFds({
        pids: options.pid,
        commands: options.command,
        users: options.user.length === 0 ? undefined : {
          only: options.user.filter((user) => !user.except).map((user) => user.uid),
          except: options.user.filter((user) => user.except).map((user) => user.uid),
        },
        ports: options.port,
        tcp: options.tcp,
        udp: options.udp,
        listen: options.listen,
        paths: options.path,
        dirs: options.dir,
        unixPaths: options.unix,
        leaks: options.leaks ? { minAgeMs: options.leakAge ?? _LEAK_AGE_MS } : undefined,
        allNetns: options.allNetns,
        matchOnly: options.quiet,
      });
      if (plan.never !== null) throw new CommandLineError(plan.never);
      const { scanFds } = await import("../lib/fds/scan.ts");
      const { isUnheld } = await import("../lib/fds/row.ts");
      const scan = await scanFds(plan);
      const output = options.json ? "json" : options.terse ? "pids" : "table";
      if (!options.quiet) await _print(scan.rows, output);
      const unheld = scan.rows.some(isUnheld);
      for (const note of _notes(scan, plan, !!options.quiet, output, unheld)) {
        writeProblem("opsd fds", note);
      }
      return scan.matched ? ExitCode.ok : ExitCode.failure;
    },
  });
}

/** A --user value: a user's uid, to keep (`www`) or to leave out (`^www`). */
type _UserChoice = { uid: number; except: boolean };

/** Parses a --user value (see {@linkcode _UserChoice}). */
function _userValue(text: string): _UserChoice {
  const except = text.startsWith("^");
  const name = except ? text.slice(1) : text;
  if (name === "") throw new Error("expected a user name or uid, such as www-data or 33");
  const uid = userId(name);
  if (uid === null) {
    throw new Error(
      `bad user "${name}": no account has that name (see 'getent passwd'): name one, or give a uid`,
    );
  }
  return { uid, except };
}

/** A --port value: a port (`8080`), or a range of them (`8000-8099`, as lsof's `-i :8000-8099`). */
function _portRange(text: string): PortRange {
  const port = intValue(1, 65535);
  const parts = text.split("-");
  const [first, last = first] = parts;
  try {
    const range = { first: port(first), last: port(last) };
    if (range.first <= range.last && parts.length <= 2) return range;
  } catch {
    // Said below, with the range's form.
  }
  throw new Error("expected a port, 1 to 65535, or a range of them such as 8000-8099");
}

/**
 * Refuses --all-netns where it changes nothing: only whether an address is
 * taken (--port, --listen, --unix) depends on the network namespace; a
 * listing, and --leaks, count every socket anyway.
 */
function _checkAllNetns(
  options: { port: PortRange[]; unix: string[]; listen?: boolean; leaks?: boolean },
): void {
  if (options.leaks) {
    throw new CommandLineError(
      "--all-netns does nothing with --leaks: a leak counts in any network namespace",
    );
  }
  if (options.port.length === 0 && options.unix.length === 0 && !options.listen) {
    throw new CommandLineError(
      "--all-netns needs --port, --listen or --unix: other listings count the sockets of " +
        "every network namespace already",
    );
  }
}

/** Prints the rows as `output` asks: a table (nothing for none), JSON lines, or their pids. */
async function _print(rows: FdsScan["rows"], output: "table" | "json" | "pids"): Promise<void> {
  const format = await import("../lib/fds/format.ts");
  if (output === "json") { for (const row of rows) writeJson(format.rowJson(row)); }
  else if (output === "pids") writeOut(format.formatPids(rows));
  else if (rows.length > 0) writeOut(format.formatRows(rows));
}

/**
 * What stderr says beside the rows: pids that are threads, zombies or no process, paths that name no
 * file, matches that do not count, and processes that could not be inspected.
 * With `quiet` only the last, and only when it may make the answer (1) wrong; with
 * `-t` (output `pids`) the last only when a pid may be missing from it.
 * `unheld`: some rows are sockets whose holder is unknown; `output` names them as
 * the output shows them.
 */
function _notes(
  scan: FdsScan,
  plan: FdsPlan,
  quiet: boolean,
  output: "table" | "json" | "pids",
  unheld: boolean,
): string[] {
  const notes: string[] = [];
  if (!quiet) {
    for (const [tid, pid] of scan.threads) {
      notes.push(`${tid} is a thread of process ${pid}, not a process: use --pid ${pid}`);
    }
    for (const pid of scan.missingPids) notes.push(`no such process: ${pid}`);
    for (const [pid, parent, threads] of scan.zombies) {
      notes.push(
        threads > 1
          ? `${pid}'s main thread exited; its ${threads - 1} other thread(s) run on, and their ` +
            `fds are not listed (see /proc/${pid}/task/*/fd)`
          : `${pid} is a zombie: it exited and holds no fds; its parent ${parent} has not reaped it`,
      );
    }
    for (const path of scan.missingPaths) notes.push(`no such file: ${escapeText(path)}`);
    for (const dir of scan.missingDirs) notes.push(`no such directory: ${escapeText(dir)}`);
    for (const { path, found } of scan.matched ? [] : plan.strayUnix) {
      notes.push(
        found === "missing"
          ? `no such file: ${escapeText(path)}`
          : `${escapeText(path)} is no unix socket: for other files use --path`,
      );
    }
    if (!scan.matched && scan.rows.length > 0) {
      notes.push(
        "the sockets shown are in other network namespaces: not taken in this one " +
          "(exit 1; --all-netns counts them)",
      );
    }
  }
  // -q's answer is certain once something matched. -t is quiet too once every socket matched
  // has a pid to print, as lsof -t implies -w, so that kill $(opsd fds -t …) from cron mails
  // nothing (a process it could not read may share what it found, as under lsof -t).
  const silent = quiet || (output === "pids" && !unheld);
  if (scan.unreadable.length === 0 || (silent && scan.matched)) return notes;
  // One of them may be the holder of a socket whose holder is unknown.
  const sockets = !unheld
    ? null
    : output === "pids"
    ? "the sockets matched that no pid was printed for"
    : `the sockets shown with ${output === "json" ? "pid null" : "PID ?"}`;
  let advice = "";
  if (scan.unreadableNeeds !== null) {
    const run = scan.unreadableNeeds === "root" ? "run as root" : "run with CAP_SYS_PTRACE";
    advice = `: ${run} to ${sockets ? `see who holds ${sockets}` : "include them"}`;
  } else if (sockets) {
    advice = `: one of them may hold ${sockets}`;
  }
  notes.push(
    `${scan.unreadable.length} process(es) could not be inspected (permission denied)${advice}`,
  );
  return notes;
}

/**
 * TCP, UDP and unix sockets from the kernel's sock_diag netlink interface (what
 * `ss` uses). Reading `/proc/net/udp` restarts the kernel's table walk for every 4 KiB
 * page it returns, so a few thousand sockets cost tens of milliseconds there;
 * a sock_diag dump costs about one. It covers the caller's network namespace.
 * For unix sockets it also tells what `/proc/net/unix` does not: their owners,
 * and every path exactly (that table writes a path as it is, newlines and all).
 *
 * @module
 */

import { lastErrno, rawCalls } from "./libc.ts";
import { Errno, SysError } from "./errno.ts";
import { SOCK } from "./constants.ts";
import { formatIpv6 } from "./sockaddr.ts";
import { decodeName } from "../text/escape.ts";
import {
  type InetSocket,
  isUnixListener,
  type PortRange,
  SOCKET_TYPES,
  TCP_LISTEN,
  type UnixSocket,
  usesPort,
} from "../procfs/net.ts";

const _AF_NETLINK = 16, _NETLINK_SOCK_DIAG = 4, _SOCK_DIAG_BY_FAMILY = 20;
const _NLM_F_REQUEST = 1, _NLM_F_DUMP = 0x300, _NLM_F_DUMP_INTR = 0x10;
const _NLMSG_ERROR = 2, _NLMSG_DONE = 3;
const _IPPROTO = { tcp: 6, udp: 17 } as const;
const _FAMILY = { ipv4: SOCK.AF_INET, ipv6: SOCK.AF_INET6 } as const;
const _HEADER = 16, _REQUEST = 56, _MESSAGE = 72;
const _UNIX_REQUEST = 24, _UNIX_MESSAGE = 16, _TCP_ESTABLISHED = 1, _TCP_CLOSE = 7;
/** Unix socket states as `/proc/net/unix` names them, by sock_diag's (TCP) numbers. */
const _UNIX_STATES: Readonly<Record<number, string>> = { 1: "CONNECTED", [TCP_LISTEN]: "LISTEN" };
const _UDIAG_SHOW_NAME = 0x01, _UDIAG_SHOW_PEER = 0x04, _UDIAG_SHOW_UID = 0x40;
const _UNIX_DIAG_NAME = 0, _UNIX_DIAG_PEER = 2, _UNIX_DIAG_UID = 7;
/** Up to this many unix sockets wanted, each is asked for by its inode instead of a dump. */
const _EXACT_MAX = 16;

/** Every TCP state: the mask asks sock_diag for all of them. */
export const ALL_STATES = 0xfff;

/** Which sockets {@linkcode dumpInetSockets} returns. */
export interface InetDumpFilter {
  /** Bit N set: sockets in TCP state N (UDP: 7 unconnected, 1 connected). Default: all. */
  states?: number;
  /** Only sockets with a local or remote port in this range (the others are not even decoded). */
  ports?: PortRange;
  /** Only sockets with these inodes (the others are not even decoded). */
  inodes?: ReadonlySet<number>;
}

/**
 * The sockets of one protocol and family in the caller's network namespace.
 * Throws a {@linkcode SysError} when sock_diag is unavailable (some sandboxes).
 */
export function dumpInetSockets(
  protocol: InetSocket["protocol"],
  family: InetSocket["family"],
  filter: InetDumpFilter = {},
): InetSocket[] {
  const sockets: InetSocket[] = [];
  const request = _request(protocol, family, filter.states ?? ALL_STATES, filter.ports);
  _exchange([request], `${protocol} ${family}`, (view, at, length) => {
    if (length >= _MESSAGE && _wanted(view, at, filter)) {
      sockets.push(_decode(view, at, protocol, family));
    }
  });
  return sockets;
}

/**
 * A sock_diag request: its netlink header, then `size` bytes (zeros) to fill
 * in. A dump (every socket that passes the request's filter) unless `dump` is
 * false: one socket, named in the request.
 */
function _diagRequest(size: number, dump = true): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(_HEADER + size);
  const header = new DataView(bytes.buffer);
  header.setUint32(0, bytes.length, true);
  header.setUint16(4, _SOCK_DIAG_BY_FAMILY, true);
  header.setUint16(6, _NLM_F_REQUEST | (dump ? _NLM_F_DUMP : 0), true);
  return bytes;
}

/**
 * Sends the requests in turn over one netlink socket and hands each answer's
 * payload (`length` bytes at `at` in `view`) to `each`: for a dump, until the
 * kernel says it is done; for a request of one socket, its one answer, or
 * none when there is no such socket (ENOENT).
 */
function _exchange(
  requests: Uint8Array<ArrayBuffer>[],
  what: string,
  each: (view: DataView, at: number, length: number) => void,
): void {
  const calls = rawCalls();
  const fd = calls.socket(_AF_NETLINK, SOCK.DGRAM | SOCK.CLOEXEC, _NETLINK_SOCK_DIAG);
  if (fd < 0) throw new SysError("socket AF_NETLINK", lastErrno(), "sock_diag unavailable");
  try {
    const buffer = new Uint8Array(1 << 16);
    for (const request of requests) {
      if (Number(calls.send(fd, request, BigInt(request.length), 0)) < 0) {
        throw new SysError("send sock_diag", lastErrno(), "sock_diag request failed");
      }
      const dump = (new DataView(request.buffer).getUint16(6, true) & _NLM_F_DUMP) !== 0;
      _answers(fd, buffer, dump, what, each);
    }
  } finally {
    calls.close(fd);
  }
}

/** Reads the answers to one request of {@linkcode _exchange} from `fd`, into `buffer`. */
function _answers(
  fd: number,
  buffer: Uint8Array<ArrayBuffer>,
  dump: boolean,
  what: string,
  each: (view: DataView, at: number, length: number) => void,
): void {
  const calls = rawCalls();
  for (;;) {
    const size = Number(calls.recv(fd, buffer, BigInt(buffer.length), 0));
    if (size < 0) throw new SysError("recv sock_diag", lastErrno(), "sock_diag read failed");
    const view = new DataView(buffer.buffer, 0, size);
    for (let offset = 0; offset + _HEADER <= size;) {
      const length = view.getUint32(offset, true), type = view.getUint16(offset + 4, true);
      // A malformed answer is the kernel's protocol broken: the caller falls back to /proc.
      if (length < _HEADER || offset + length > size) {
        throw new SysError(`sock_diag ${what}`, Errno.EPROTO, "malformed netlink message");
      }
      if (view.getUint16(offset + 6, true) & _NLM_F_DUMP_INTR) {
        throw new SysError(`sock_diag ${what}`, Errno.EINTR, "dump interrupted by a table change");
      }
      if (type === _NLMSG_DONE) {
        const status = length >= _HEADER + 4 ? view.getInt32(offset + _HEADER, true) : 0;
        if (status < 0) throw new SysError(`sock_diag ${what}`, -status, "dump failed");
        return;
      }
      if (type === _NLMSG_ERROR) {
        const errno = -view.getInt32(offset + _HEADER, true);
        if (!dump && errno === Errno.ENOENT) return; // no such socket
        throw new SysError(`sock_diag ${what}`, errno, dump ? "dump refused" : "request refused");
      }
      if (type === _SOCK_DIAG_BY_FAMILY) each(view, offset + _HEADER, length - _HEADER);
      offset += (length + 3) & ~3;
    }
    if (!dump) return;
  }
}

function _wanted(view: DataView, at: number, filter: InetDumpFilter): boolean {
  if (filter.ports !== undefined) {
    const socket = { localPort: view.getUint16(at + 4), remotePort: view.getUint16(at + 6) };
    if (!usesPort(socket, filter.ports)) return false;
  }
  return filter.inodes === undefined || filter.inodes.has(view.getUint32(at + 68, true));
}

function _request(
  protocol: InetSocket["protocol"],
  family: InetSocket["family"],
  states: number,
  ports?: PortRange,
): Uint8Array<ArrayBuffer> {
  // struct inet_diag_req_v2: family, protocol, ext, pad, states, sockid.
  const bytes = _diagRequest(_REQUEST + (ports === undefined ? 0 : 40));
  if (ports !== undefined) {
    // nlattr INET_DIAG_REQ_BYTECODE (36 bytes of ops): first <= sport <= last -> accept;
    // else first <= dport <= last -> accept; else reject. The kernel accepts a socket when
    // the ops' jumps end exactly at the end, and rejects it when they jump past it.
    const bc = new DataView(bytes.buffer, _HEADER + _REQUEST);
    bc.setUint16(0, 40, true);
    bc.setUint16(2, 1, true);
    const op = (at: number, code: number, yes: number, no: number) => {
      bc.setUint8(4 + at, code);
      bc.setUint8(5 + at, yes);
      bc.setUint16(6 + at, no, true);
    };
    op(0, 2, 8, 20); // S_GE first, else to D_GE
    op(4, 0, 0, ports.first);
    op(8, 3, 8, 12); // S_LE last, else to D_GE
    op(12, 0, 0, ports.last);
    op(16, 1, 4, 20); // JMP to the end: accept
    op(20, 4, 8, 20); // D_GE first, else past the end: reject
    op(24, 0, 0, ports.first);
    op(28, 5, 8, 12); // D_LE last: to the end (accept), else past it
    op(32, 0, 0, ports.last);
  }
  const view = new DataView(bytes.buffer);
  view.setUint8(_HEADER, _FAMILY[family]);
  view.setUint8(_HEADER + 1, _IPPROTO[protocol]);
  view.setUint32(_HEADER + 4, states, true);
  return bytes;
}

function _decode(
  view: DataView,
  at: number,
  protocol: InetSocket["protocol"],
  family: InetSocket["family"],
): InetSocket {
  // struct inet_diag_msg: family, state, timer, retrans, sockid {sport, dport, src[16],
  // dst[16], if, cookie[2]}, expires, rqueue, wqueue, uid, inode.
  const address = (offset: number) => {
    const bytes = new Uint8Array(view.buffer, view.byteOffset + at + offset, 16);
    return family === "ipv4" ? bytes.subarray(0, 4).join(".") : formatIpv6(bytes);
  };
  return {
    protocol,
    family,
    state: view.getUint8(at + 1),
    localPort: view.getUint16(at + 4),
    remotePort: view.getUint16(at + 6),
    localAddress: address(8),
    remoteAddress: address(24),
    uid: view.getUint32(at + 64, true),
    inode: view.getUint32(at + 68, true),
  };
}

/** A unix socket as sock_diag describes it: as `/proc/net/unix` does, with its owner. */
export type UnixDiagSocket = Omit<UnixSocket, "kernelAddress">;

/** Which sockets {@linkcode dumpUnixSockets} returns. */
export interface UnixDumpFilter {
  /** Only sockets with these inodes (the others are not even decoded). */
  inodes?: ReadonlySet<number>;
  /** Only listeners (see `isUnixListener`; the kernel leaves out the other states). */
  listening?: boolean;
}

/**
 * The unix sockets in the caller's network namespace that pass `filter`, as
 * `/proc/net/unix` lists them but with their owners, every path exactly, and
 * without the sockets no file holds (inode 0: connections not accepted yet).
 * A few inodes are asked for one by one, which costs less than a dump of all.
 * Throws a {@linkcode SysError} when sock_diag is unavailable (some sandboxes).
 */
export function dumpUnixSockets(filter: UnixDumpFilter = {}): UnixDiagSocket[] {
  const { inodes, listening = false } = filter;
  const exact = inodes !== undefined && inodes.size <= _EXACT_MAX;
  const requests = exact
    ? [...inodes].filter((inode) => inode !== 0).map((inode) => _unixRequest(listening, inode))
    : [_unixRequest(listening)];
  const sockets: UnixDiagSocket[] = [];
  _exchange(requests, "unix", (view, at, length) => {
    if (length < _UNIX_MESSAGE) return;
    const inode = view.getUint32(at + 4, true);
    if (inodes && !inodes.has(inode)) return;
    // Only one in LISTEN or a datagram one can be a listener: the rest (most) is not decoded.
    const [type, state] = [view.getUint8(at + 1), view.getUint8(at + 2)];
    if (listening && state !== TCP_LISTEN && type !== SOCK.DGRAM) return;
    const socket = _decodeUnix(view, at, length, inode);
    // An exact request is not filtered by state (a dump is, in the kernel).
    if (!listening || isUnixListener(socket)) sockets.push(socket);
  });
  return sockets;
}

/** A unix_diag request: a dump (of the listeners only, or all), or of socket `inode` alone. */
function _unixRequest(listening: boolean, inode?: number): Uint8Array<ArrayBuffer> {
  // struct unix_diag_req: family, protocol, pad, states, ino, show, cookie[2].
  const request = _diagRequest(_UNIX_REQUEST, inode === undefined);
  const fields = new DataView(request.buffer, _HEADER);
  fields.setUint8(0, SOCK.AF_UNIX);
  // Listeners: in LISTEN, or datagram servers: unconnected (TCP_CLOSE), or ESTABLISHED once
  // a client connected (see isUnixListener).
  const states = 1 << TCP_LISTEN | 1 << _TCP_CLOSE | 1 << _TCP_ESTABLISHED;
  fields.setUint32(4, listening ? states : 0xffffffff, true);
  fields.setUint32(8, inode ?? 0, true);
  fields.setUint32(12, _UDIAG_SHOW_NAME | _UDIAG_SHOW_PEER | _UDIAG_SHOW_UID, true);
  // No cookie (INET_DIAG_NOCOOKIE): the inode alone names the socket.
  fields.setUint32(16, 0xffffffff, true);
  fields.setUint32(20, 0xffffffff, true);
  return request;
}

function _decodeUnix(view: DataView, at: number, length: number, inode: number): UnixDiagSocket {
  // struct unix_diag_msg: family, type, state, pad, ino, cookie[2]; then attributes.
  const socket: UnixDiagSocket = {
    inode,
    path: "",
    type: SOCKET_TYPES[view.getUint8(at + 1)] ?? "unknown",
    state: _UNIX_STATES[view.getUint8(at + 2)] ?? "UNCONNECTED",
    peer: 0,
    uid: null,
  };
  for (let offset = at + _UNIX_MESSAGE; offset + 4 <= at + length;) {
    const size = view.getUint16(offset, true), type = view.getUint16(offset + 2, true) & 0x3fff;
    if (size < 4) break;
    if (type === _UNIX_DIAG_UID) socket.uid = view.getUint32(offset + 4, true);
    if (type === _UNIX_DIAG_PEER) socket.peer = view.getUint32(offset + 4, true);
    if (type === _UNIX_DIAG_NAME) {
      socket.path = _unixPath(new Uint8Array(view.buffer, view.byteOffset + offset + 4, size - 4));
    }
    offset += (size + 3) & ~3;
  }
  return socket;
}

/**
 * A `sun_path` as `/proc/net/unix` prints it: a path without its closing NUL;
 * an abstract name with `@` for its leading NUL, and for any NUL inside.
 */
function _unixPath(bytes: Uint8Array): string {
  const name = bytes[0] === 0 ? bytes : bytes.subarray(0, bytes.length - 1);
  return decodeName(name).replaceAll("\0", "@");
}

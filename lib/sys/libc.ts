/**
 * The one door to libc. Every foreign call opsd makes is declared once, in
 * `_SYMBOLS` (C prototype beside it), and reached through a typed wrapper below
 * that turns a `-1` return into a {@linkcode SysError} naming the call and the
 * errno, so callers see `bind: EADDRINUSE (address already in use)` instead of a
 * bare number.
 *
 * Adding a call is one line in `_SYMBOLS` and one wrapper. Each symbol is bound
 * the first time it is used (binding costs about 0.3 ms per symbol: Deno builds
 * a trampoline for each), so a command pays only for the calls it makes. Hot
 * loops that check results themselves use {@linkcode rawCalls}; a Worker binds
 * the calls it needs from {@linkcode libcSource}.
 *
 * @module
 */

import { CLOSE_RANGE_CLOEXEC, F, O, POSIX_SPAWN } from "./constants.ts";
import { Errno, SysError } from "./errno.ts";
import { decodeSockaddr, encodeSockaddr, SOCKADDR_STORAGE_SIZE } from "./sockaddr.ts";
import type { SocketAddress } from "./sockaddr.ts";

const _SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" }, // int *__errno_location(void)
  strerror: { parameters: ["i32"], result: "pointer" }, // char *strerror(int errnum)
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" }, // int open(const char *path, int flags, mode_t mode)
  close: { parameters: ["i32"], result: "i32" }, // int close(int fd)
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" }, // ssize_t read(int fd, void *buf, size_t n)
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" }, // ssize_t write(int fd, const void *buf, size_t n)
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true }, // int poll(struct pollfd *fds, nfds_t n, int timeout), on a helper thread
  pipe2: { parameters: ["buffer", "i32"], result: "i32" }, // int pipe2(int fds[2], int flags)
  dup: { parameters: ["i32"], result: "i32" }, // int dup(int fd)
  dup2: { parameters: ["i32", "i32"], result: "i32" }, // int dup2(int old, int new)
  fcntl: { parameters: ["i32", "i32", "i64"], result: "i32" }, // int fcntl(int fd, int cmd, long arg)
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" }, // int ioctl(int fd, unsigned long request, int *arg)
  fcntl_lock: { name: "fcntl", parameters: ["i32", "i32", "buffer"], result: "i32" }, // int fcntl(int fd, int cmd, struct flock *lock)
  flock: { parameters: ["i32", "i32"], result: "i32" }, // int flock(int fd, int op)
  close_range: { parameters: ["u32", "u32", "i32"], result: "i32" }, // int close_range(unsigned first, unsigned last, int flags)
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" }, // int socket(int domain, int type, int protocol)
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" }, // int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" }, // int bind(int fd, const struct sockaddr *addr, socklen_t len)
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" }, // int connect(int fd, const struct sockaddr *addr, socklen_t len)
  listen: { parameters: ["i32", "i32"], result: "i32" }, // int listen(int fd, int backlog)
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" }, // int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
  setsid: { parameters: [], result: "i32" }, // pid_t setsid(void)
  getpgid: { parameters: ["i32"], result: "i32" }, // pid_t getpgid(pid_t pid)
  getsid: { parameters: ["i32"], result: "i32" }, // pid_t getsid(pid_t pid)
  kill: { parameters: ["i32", "i32"], result: "i32" }, // int kill(pid_t pid, int sig)
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" }, // pid_t waitpid(pid_t pid, int *status, int options)
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" }, // int prctl(int op, unsigned long a2, a3, a4, a5)
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" }, // int execve(const char *path, char *const argv[], char *const envp[])
  umask: { parameters: ["u32"], result: "u32" }, // mode_t umask(mode_t mask)
  signal: { parameters: ["i32", "pointer"], result: "pointer" }, // sighandler_t signal(int sig, sighandler_t handler)
  sigprocmask: { parameters: ["i32", "buffer", "buffer"], result: "i32" }, // int sigprocmask(int how, const sigset_t *set, sigset_t *old)
  chdir: { parameters: ["buffer"], result: "i32" }, // int chdir(const char *path)
  faccessat: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" }, // int faccessat(int dirfd, const char *path, int mode, int flags)
  setuid: { parameters: ["u32"], result: "i32" }, // int setuid(uid_t uid)
  setgid: { parameters: ["u32"], result: "i32" }, // int setgid(gid_t gid)
  setgroups: { parameters: ["usize", "buffer"], result: "i32" }, // int setgroups(size_t n, const gid_t *list)
  getpwnam: { parameters: ["buffer"], result: "pointer" }, // struct passwd *getpwnam(const char *name)
  getpwuid: { parameters: ["u32"], result: "pointer" }, // struct passwd *getpwuid(uid_t uid)
  getgrnam: { parameters: ["buffer"], result: "pointer" }, // struct group *getgrnam(const char *name)
  getgrouplist: { parameters: ["buffer", "u32", "buffer", "buffer"], result: "i32" }, // int getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups)
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  }, // int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" }, // int posix_spawnattr_init(posix_spawnattr_t *attr)
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" }, // int posix_spawnattr_destroy(posix_spawnattr_t *attr)
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" }, // int posix_spawnattr_setflags(posix_spawnattr_t *attr, short flags)
  posix_spawnattr_setpgroup: { parameters: ["buffer", "i32"], result: "i32" }, // int posix_spawnattr_setpgroup(posix_spawnattr_t *attr, pid_t pgroup)
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" }, // int posix_spawnattr_setsigmask(posix_spawnattr_t *attr, const sigset_t *mask)
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" }, // int posix_spawnattr_setsigdefault(posix_spawnattr_t *attr, const sigset_t *set)
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" }, // int posix_spawn_file_actions_init(posix_spawn_file_actions_t *fa)
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" }, // int posix_spawn_file_actions_destroy(posix_spawn_file_actions_t *fa)
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" }, // int posix_spawn_file_actions_adddup2(posix_spawn_file_actions_t *fa, int fd, int newfd)
  posix_spawn_file_actions_addclosefrom_np: { parameters: ["buffer", "i32"], result: "i32" }, // int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *fa, int from)
  posix_spawn_file_actions_addclose: { parameters: ["buffer", "i32"], result: "i32" }, // int posix_spawn_file_actions_addclose(posix_spawn_file_actions_t *fa, int fd)
  posix_spawn_file_actions_addchdir_np: { parameters: ["buffer", "buffer"], result: "i32" }, // int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *fa, const char *path)
  // /proc inspection (opsd fds): the fd walker, the pid lister, sock_diag dumps, statx of fd targets
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" }, // int openat(int dirfd, const char *path, int flags, mode_t mode)
  getdents64: { parameters: ["i32", "buffer", "usize"], result: "isize" }, // ssize_t getdents64(int fd, void *buf, size_t n)
  readlinkat: { parameters: ["i32", "buffer", "buffer", "usize"], result: "isize" }, // ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t n)
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" }, // int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *buf)
  getxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" }, // ssize_t getxattr(const char *path, const char *name, void *value, size_t size)
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" }, // ssize_t send(int fd, const void *buf, size_t n, int flags)
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" }, // ssize_t recv(int fd, void *buf, size_t n, int flags)
  // daemon: positional I/O that leaves a shared file offset alone, signals that cannot hit a reused pid, the exec shim's environment file
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" }, // ssize_t pread(int fd, void *buf, size_t n, off_t offset)
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" }, // ssize_t pwrite(int fd, const void *buf, size_t n, off_t offset)
  pidfd_open: { parameters: ["i32", "u32"], result: "i32" }, // int pidfd_open(pid_t pid, unsigned int flags)
  pidfd_send_signal: { parameters: ["i32", "i32", "pointer", "u32"], result: "i32" }, // int pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags)
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" }, // int memfd_create(const char *name, unsigned int flags)
  syscall_bpf: { name: "syscall", parameters: ["i64", "i64", "buffer", "u64"], result: "i64" }, // long syscall(SYS_bpf, int cmd, union bpf_attr *attr, unsigned size)
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" }, // void *mmap(void *addr, size_t n, int prot, int flags, int fd, off_t offset)
  munmap: { parameters: ["pointer", "usize"], result: "i32" }, // int munmap(void *addr, size_t n)
  madvise: { parameters: ["buffer", "usize", "i32"], result: "i32" }, // int madvise(void *addr, size_t n, int advice)
} as const satisfies Deno.ForeignLibraryInterface;

/** The calls of `_SYMBOLS`, typed as Deno binds them. */
export type LibcCalls = Deno.DynamicLibrary<typeof _SYMBOLS>["symbols"];

/** The name of a call in the table. */
export type LibcName = keyof typeof _SYMBOLS;

const _calls = _bindOnFirstUse();

/** The table, each call bound by its own `Deno.dlopen` the first time it is read. */
function _bindOnFirstUse(): LibcCalls {
  const calls = {};
  for (const name of Object.keys(_SYMBOLS) as LibcName[]) {
    Object.defineProperty(calls, name, {
      configurable: true,
      enumerable: true,
      get() {
        const symbol = Deno.dlopen("libc.so.6", { [name]: _SYMBOLS[name] }).symbols[name];
        Object.defineProperty(calls, name, { value: symbol });
        return symbol;
      },
    });
  }
  return calls as LibcCalls;
}

/**
 * The raw calls, for hot loops that expect failures (a process or fd that
 * vanished mid-scan is normal there) and check results and {@linkcode lastErrno}
 * themselves. Take the functions out once (`const { readlinkat } = rawCalls()`):
 * each is bound on first use. Everywhere else, use the wrappers below.
 */
export function rawCalls(): LibcCalls {
  return _calls;
}

/** The calls, as the wrappers below reach them. */
const _libc = rawCalls;

/**
 * JavaScript source of an expression that binds `names` from the table and
 * yields them, for Workers built from source text: they cannot import this
 * module, and a bound call cannot cross threads.
 *
 * @example
 * ```ts
 * const source = `const calls = ${libcSource(["openat", "close"])};`;
 * ```
 */
export function libcSource(names: readonly LibcName[]): string {
  const symbols = Object.fromEntries(names.map((name) => [name, _SYMBOLS[name]]));
  return `Deno.dlopen("libc.so.6", ${JSON.stringify(symbols)}).symbols`;
}

const _encoder = new TextEncoder();

/** A NUL-terminated copy of a string, for `const char *` parameters. */
function _cString(text: string): Uint8Array<ArrayBuffer> {
  return _encoder.encode(`${text}\0`);
}

/** A NULL-terminated `char *[]` over C strings; the caller keeps `strings` alive across the call. */
function _cStringArray(strings: Uint8Array<ArrayBuffer>[]): Uint8Array<ArrayBuffer> {
  const pointers = new BigUint64Array(strings.length + 1);
  strings.forEach((s, i) => pointers[i] = addressOf(s));
  return new Uint8Array(pointers.buffer);
}

/** The errno the last failed call on this thread left. */
export function lastErrno(): number {
  return new Deno.UnsafePointerView(_libc().__errno_location()!).getInt32();
}

/** The text `strerror(3)` gives for an errno, such as `Permission denied`. */
export function errnoText(errno: number): string {
  return Deno.UnsafePointerView.getCString(_libc().strerror(errno)!);
}

/** The error for a failed call: `call: ENAME (description)`. */
function _error(call: string, errno = lastErrno()): SysError {
  return new SysError(call, errno, errnoText(errno));
}

/** `result` as a number, or a {@linkcode SysError} for `call` when it is -1. */
function _check(call: string, result: number | bigint): number {
  if (result === -1 || result === -1n) throw _error(call);
  return Number(result);
}

/** Whether a SysError carries one of the given errno codes. */
export function isErrno(error: unknown, ...codes: string[]): error is SysError {
  return error instanceof SysError && codes.includes(error.code);
}

// --- files and descriptors ---

/** Opens `path` (`O.*` flags; always add `O.CLOEXEC` unless the fd is meant for a child). */
export function open(path: string, flags: number, mode = 0o666): number {
  return _check(`open ${path}`, _libc().open(_cString(path), flags, mode));
}

/** Closes `fd`. */
export function close(fd: number): void {
  _check("close", _libc().close(fd));
}

/** Reads up to `buffer.length` bytes from `fd`; 0 means end of file. Blocks this thread. */
export function read(fd: number, buffer: Uint8Array<ArrayBuffer>): number {
  return _check("read", _libc().read(fd, buffer, BigInt(buffer.length)));
}

/**
 * Reads up to `buffer.length` bytes from `fd`, which must be non-blocking (`O.NONBLOCK`);
 * 0 means end of file, null that nothing waits to be read (EAGAIN).
 */
export function readNonblocking(fd: number, buffer: Uint8Array<ArrayBuffer>): number | null {
  const read = _retried([Errno.EAGAIN], () => _libc().read(fd, buffer, BigInt(buffer.length)));
  if (read.result !== -1) return read.result;
  if (read.errno === Errno.EAGAIN) return null;
  throw _error("read", read.errno);
}

/**
 * Makes `call` (one that returns -1 and sets errno when it fails, and may be made
 * again) and returns its result as a number, with the errno of a failure. A failure
 * whose errno is not one of `expected` is made once more before it counts: the
 * runtime now and then changes errno on this thread between a call and the look at
 * it (an empty readiness pipe's EAGAIN was read as ENOENT, about one `supervise
 * --daemon` in twenty). A real failure fails again.
 */
function _retried(
  expected: readonly number[],
  call: () => number | bigint,
): { result: number; errno: number } {
  for (let attempt = 1;; attempt++) {
    const result = Number(call());
    if (result !== -1) return { result, errno: 0 };
    const errno = lastErrno();
    if (attempt === 2 || expected.includes(errno)) return { result, errno };
  }
}

/** `poll(2)` events: data to read (or end of file); an error; a hangup. */
const _POLLIN = 1, _POLLERR = 8, _POLLHUP = 16;

/** A `struct pollfd { int fd; short events; short revents; }` asking for `events` on `fd`. */
function _pollfd(fd: number, events: number): Uint8Array<ArrayBuffer> {
  const pollfd = new Uint8Array(8);
  const view = new DataView(pollfd.buffer);
  view.setInt32(0, fd, true);
  view.setInt16(4, events, true);
  return pollfd;
}

/**
 * Waits until `fd` has something to read (data or end of file) or `timeout` ms
 * pass (Infinity: no limit; beyond 2^31 ms, less), without blocking this thread:
 * `poll(2)` runs on a helper thread. It may also end early (a signal interrupted
 * it; its errno stays on the helper thread), so the caller checks with a
 * non-blocking read and the clock, as {@linkcode readNonblocking} allows.
 */
export async function waitReadable(fd: number, timeout: number): Promise<void> {
  await _libc().poll(
    _pollfd(fd, _POLLIN),
    1n,
    timeout === Infinity ? -1 : Math.min(Math.ceil(timeout), 2 ** 31 - 1),
  );
}

/**
 * Whether nobody reads what is written to `fd` any more, found without writing and
 * without waiting: `poll(2)` reports an error (a pipe whose every reader is gone:
 * a write would fail with EPIPE) or a hangup (a socket shut down both ways, a
 * terminal hung up). False when it cannot tell (interrupted, `fd` not open).
 */
export async function readerGone(fd: number): Promise<boolean> {
  const pollfd = _pollfd(fd, 0);
  await _libc().poll(pollfd, 1n, 0);
  return (new DataView(pollfd.buffer).getInt16(6, true) & (_POLLERR | _POLLHUP)) !== 0;
}

/** Writes `bytes` to `fd`, returning how many were written. */
export function write(fd: number, bytes: Uint8Array<ArrayBuffer>): number {
  return _check("write", _libc().write(fd, bytes, BigInt(bytes.length)));
}

/** A pipe as `[readEnd, writeEnd]` (`flags`: `O.CLOEXEC`, `O.NONBLOCK`). */
export function pipe2(flags: number = O.CLOEXEC): [number, number] {
  const fds = new Int32Array(2);
  _check("pipe2", _libc().pipe2(new Uint8Array(fds.buffer), flags));
  return [fds[0], fds[1]];
}

/** A new fd for the same open file, the lowest free number. */
export function dup(fd: number): number {
  return _check("dup", _libc().dup(fd));
}

/** Makes `newFd` refer to the open file of `oldFd` (closing what `newFd` held). */
export function dup2(oldFd: number, newFd: number): number {
  return _check("dup2", _libc().dup2(oldFd, newFd));
}

/** A close-on-exec duplicate of `fd` numbered `min` or above (F_DUPFD_CLOEXEC). */
export function dupCloexec(fd: number, min = 0): number {
  return _check("fcntl F_DUPFD_CLOEXEC", _libc().fcntl(fd, F.DUPFD_CLOEXEC, BigInt(min)));
}

/** Whether `fd` is marked close-on-exec. */
export function getCloexec(fd: number): boolean {
  return (_check("fcntl F_GETFD", _libc().fcntl(fd, F.GETFD, 0n)) & F.FD_CLOEXEC) !== 0;
}

/** Marks `fd` close-on-exec or clears the mark. */
export function setCloexec(fd: number, on: boolean): void {
  _check("fcntl F_SETFD", _libc().fcntl(fd, F.SETFD, on ? BigInt(F.FD_CLOEXEC) : 0n));
}

/** The file status flags of `fd` (`O.*`: access mode, `O.APPEND`, `O.NONBLOCK`…). */
export function getStatusFlags(fd: number): number {
  return _check("fcntl F_GETFL", _libc().fcntl(fd, F.GETFL, 0n));
}

/** Sets the file status flags of `fd` (shared by every holder of the open file). */
export function setStatusFlags(fd: number, flags: number): void {
  _check("fcntl F_SETFL", _libc().fcntl(fd, F.SETFL, BigInt(flags)));
}

/**
 * Marks every fd from `first` up close-on-exec (`close_range` with
 * CLOSE_RANGE_CLOEXEC), so children spawned later inherit none of them.
 */
export function cloexecFrom(first: number): void {
  _check("close_range", _libc().close_range(first, 0xffffffff, CLOSE_RANGE_CLOEXEC));
}

/** Closes every fd from `first` to `last` (`close_range`). */
export function closeRange(first: number, last = 0xffffffff): void {
  _check("close_range", _libc().close_range(first, last, 0));
}

// --- locks ---

/** Which kind of `fcntl` record lock: per open file (`ofd`, Linux) or per process (`posix`). */
export type LockKind = "ofd" | "posix";

/** A record lock as `fcntl` describes it. */
export interface RecordLock {
  /** `read` (shared), `write` (exclusive) or `unlock`. */
  type: "read" | "write" | "unlock";
  /** First byte covered. */
  start: number;
  /** Bytes covered; 0 means to the end of the file, however long it grows. */
  length: number;
  /** The holder's pid; -1 for an OFD lock, which belongs to no process. */
  pid: number;
}

const _LOCK_TYPES = ["read", "write", "unlock"] as const;

function _flock(type: RecordLock["type"], start: number, length: number): Uint8Array<ArrayBuffer> {
  // struct flock { short l_type; short l_whence; off_t l_start; off_t l_len; pid_t l_pid; }
  const bytes = new Uint8Array(32);
  const view = new DataView(bytes.buffer);
  view.setInt16(0, _LOCK_TYPES.indexOf(type), true);
  view.setInt16(2, 0, true); // SEEK_SET
  view.setBigInt64(8, BigInt(start), true);
  view.setBigInt64(16, BigInt(length), true);
  return bytes;
}

/** The errnos of a lock held elsewhere (EAGAIN, and EACCES for a classic fcntl lock). */
const _CONFLICT = [Errno.EAGAIN, Errno.EACCES];

/**
 * Takes (or with `type: "unlock"` releases) a record lock on `fd` without waiting.
 * Returns false when another holder's lock conflicts. OFD locks survive closing
 * other fds of the same file and are shared with children that inherit `fd`.
 */
export function setLock(
  fd: number,
  kind: LockKind,
  type: RecordLock["type"],
  range: { start?: number; length?: number } = {},
): boolean {
  const command = kind === "ofd" ? F.OFD_SETLK : F.SETLK;
  const bytes = _flock(type, range.start ?? 0, range.length ?? 0);
  const { result, errno } = _retried(_CONFLICT, () => _libc().fcntl_lock(fd, command, bytes));
  if (result === 0) return true;
  const error = _error(kind === "ofd" ? "fcntl F_OFD_SETLK" : "fcntl F_SETLK", errno);
  if (error.code === "EAGAIN" || error.code === "EACCES") return false;
  throw error;
}

/**
 * The lock that would block a `type` lock on `fd` over `range` (default: the whole
 * file), or null when none would. Locks held through `fd`'s own open file never count.
 */
export function getLock(
  fd: number,
  kind: LockKind,
  type: "read" | "write" = "write",
  range: { start?: number; length?: number } = {},
): RecordLock | null {
  const bytes = _flock(type, range.start ?? 0, range.length ?? 0);
  _check(
    kind === "ofd" ? "fcntl F_OFD_GETLK" : "fcntl F_GETLK",
    _libc().fcntl_lock(fd, kind === "ofd" ? F.OFD_GETLK : F.GETLK, bytes),
  );
  const view = new DataView(bytes.buffer);
  const found = _LOCK_TYPES[view.getInt16(0, true)];
  if (found === "unlock") return null;
  return {
    type: found,
    start: Number(view.getBigInt64(8, true)),
    length: Number(view.getBigInt64(16, true)),
    pid: view.getInt32(24, true),
  };
}

/** `flock(2)`: `LOCK.*` operations; returns false on EWOULDBLOCK with `LOCK.NB`. */
export function flock(fd: number, operation: number): boolean {
  const { result, errno } = _retried([Errno.EAGAIN], () => _libc().flock(fd, operation));
  if (result === 0) return true;
  const error = _error("flock", errno);
  if (error.code === "EAGAIN") return false;
  throw error;
}

// --- sockets ---

/** A new socket (`SOCK.*` constants; add `SOCK.CLOEXEC` unless it is meant for a child). */
export function socket(domain: number, type: number, protocol = 0): number {
  return _check("socket", _libc().socket(domain, type, protocol));
}

/** Sets an integer socket option, such as SO_REUSEADDR. */
export function setsockopt(fd: number, level: number, name: number, value: number): void {
  const bytes = new Uint8Array(new Int32Array([value]).buffer);
  _check("setsockopt", _libc().setsockopt(fd, level, name, bytes, 4));
}

/** Binds `fd` to `address`. */
export function bind(fd: number, address: SocketAddress): void {
  const bytes = encodeSockaddr(address);
  _check("bind", _libc().bind(fd, bytes, bytes.length));
}

/** Connects `fd` to `address` (blocking unless `fd` is non-blocking). */
export function connect(fd: number, address: SocketAddress): void {
  const bytes = encodeSockaddr(address);
  _check("connect", _libc().connect(fd, bytes, bytes.length));
}

/** Marks `fd` as listening with the given backlog. */
export function listen(fd: number, backlog = 511): void {
  _check("listen", _libc().listen(fd, backlog));
}

/** The address `fd` is bound to (for a port chosen by the kernel, the port it chose). */
export function getsockname(fd: number): SocketAddress {
  const bytes = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  const length = new Uint32Array([bytes.length]);
  _check("getsockname", _libc().getsockname(fd, bytes, new Uint8Array(length.buffer)));
  return decodeSockaddr(bytes, length[0]);
}

// --- processes ---

/** Makes the calling process a session and process group leader; returns the session id. */
export function setsid(): number {
  return _check("setsid", _libc().setsid());
}

/** The process group of `pid` (0: the caller). */
export function getpgid(pid: number): number {
  return _check("getpgid", _libc().getpgid(pid));
}

/** The session of `pid` (0: the caller). */
export function getsid(pid: number): number {
  return _check("getsid", _libc().getsid(pid));
}

/**
 * Sends signal `signal` to `pid` (negative: to that process group; signal 0
 * only checks that the target exists).
 */
export function kill(pid: number, signal: number): void {
  _check(`kill ${pid}`, _libc().kill(pid, signal));
}

/** How a child ended, as `waitpid(2)` reports it. */
export type WaitStatus =
  | { pid: number; exitCode: number; signal: null; core: false }
  | { pid: number; exitCode: null; signal: number; core: boolean };

/**
 * Collects the exit status of child `pid` (-1: any child) without blocking
 * (`options`: `WNOHANG` by default); null while it still runs. Never call it with
 * -1 in a process that also uses `Deno.Command`: it would steal those statuses.
 */
export function waitpid(pid: number, options = 1): WaitStatus | null {
  const status = new Int32Array(1);
  const found = _check("waitpid", _libc().waitpid(pid, new Uint8Array(status.buffer), options));
  if (found === 0) return null;
  const raw = status[0];
  const signal = raw & 0x7f;
  if (signal === 0) return { pid: found, exitCode: (raw >> 8) & 0xff, signal: null, core: false };
  return { pid: found, exitCode: null, signal, core: (raw & 0x80) !== 0 };
}

/** `prctl(2)` with an integer argument (`PR.*` options). */
export function prctl(option: number, argument: number): void {
  _check("prctl", _libc().prctl(option, BigInt(argument), 0n, 0n, 0n));
}

/** Replaces the calling process with `path`; returns only by throwing. */
export function execve(path: string, argv: string[], env: string[]): never {
  const args = argv.map(_cString), vars = env.map(_cString);
  _libc().execve(_cString(path), _cStringArray(args), _cStringArray(vars));
  throw _error(`execve ${path}`);
}

/**
 * Puts signal `signal` back to its default action (SIG_DFL). An ignored signal
 * stays ignored across exec, so a process that execs a program resets the ones
 * Deno ignores (SIGPIPE) first.
 */
export function resetSignal(signal: number): void {
  _libc().signal(signal, null);
}

const _SIG_BLOCK = 0, _SIG_UNBLOCK = 1;

/**
 * Blocks (`true`) or unblocks `signal` for the calling thread, and says whether
 * it was blocked before. Threads created afterwards, and a program exec'd by
 * this thread, start with the mask it leaves.
 */
export function blockSignal(signal: number, block = true): boolean {
  const set = new Uint8Array(_SIGSET_SIZE), old = new Uint8Array(_SIGSET_SIZE);
  set[(signal - 1) >> 3] = 1 << ((signal - 1) & 7);
  _check("sigprocmask", _libc().sigprocmask(block ? _SIG_BLOCK : _SIG_UNBLOCK, set, old));
  return (old[(signal - 1) >> 3] & (1 << ((signal - 1) & 7))) !== 0;
}

/** What a signal did before {@linkcode ignoreSignal} changed it. */
export type SignalDisposition = "default" | "ignored" | "handled";

/**
 * Makes this process ignore `signal` (SIG_IGN) and says what the signal did
 * before: its default action, nothing, or run a handler someone installed.
 * An ignored signal stays ignored across exec (see {@linkcode resetSignal}).
 */
export function ignoreSignal(signal: number): SignalDisposition {
  const previous = _libc().signal(signal, Deno.UnsafePointer.create(1n));
  if (previous === null) return "default";
  return Deno.UnsafePointer.value(previous) === 1n ? "ignored" : "handled";
}

/** Sets the file mode creation mask, returning the previous one. */
export function umask(mask: number): number {
  return _libc().umask(mask);
}

/** Changes the working directory of the whole process. */
export function chdir(path: string): void {
  _check(`chdir ${path}`, _libc().chdir(_cString(path)));
}

/** `faccessat(2)` arguments: the working directory as `dirfd`, and the effective ids as the ones checked. */
const _AT_FDCWD = -100, _AT_EACCESS = 0x200;

/** `access(2)` modes: search or execute, write, read. */
export const ACCESS = { X: 1, W: 2, R: 4 } as const;

/**
 * Checks that this process's effective user and groups may access `path` in
 * every way `mode` asks (`ACCESS.*`), as the kernel would on open or exec
 * (`faccessat` with AT_EACCESS); throws a SysError (`access PATH: EACCES …`) when not.
 */
export function checkAccess(path: string, mode: number): void {
  _check(`access ${path}`, _libc().faccessat(_AT_FDCWD, _cString(path), mode, _AT_EACCESS));
}

// --- users and groups ---

/** A user account as `getpwnam(3)` reports it. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

function _passwd(pointer: Deno.PointerValue): PasswdEntry | null {
  if (pointer === null) return null;
  // struct passwd { char *pw_name, *pw_passwd; uid_t pw_uid; gid_t pw_gid; char *pw_gecos, *pw_dir, *pw_shell; }
  const view = new Deno.UnsafePointerView(pointer);
  const text = (offset: number) => Deno.UnsafePointerView.getCString(view.getPointer(offset)!);
  return {
    name: text(0),
    uid: view.getUint32(16),
    gid: view.getUint32(20),
    home: text(32),
    shell: text(40),
  };
}

/** The account named `name` (through NSS, as `id` sees it), or null when there is none. */
export function getpwnam(name: string): PasswdEntry | null {
  return _passwd(_libc().getpwnam(_cString(name)));
}

/** The account with uid `uid`, or null when there is none. */
export function getpwuid(uid: number): PasswdEntry | null {
  return _passwd(_libc().getpwuid(uid));
}

/** The gid of the group named `name`, or null when there is none. */
export function getgrnam(name: string): number | null {
  // struct group { char *gr_name, *gr_passwd; gid_t gr_gid; char **gr_mem; }
  const pointer = _libc().getgrnam(_cString(name));
  return pointer === null ? null : new Deno.UnsafePointerView(pointer).getUint32(16);
}

/** Every group `user` belongs to, `gid` included (`getgrouplist(3)`). */
export function getgrouplist(user: string, gid: number): number[] {
  for (let size = 64;; size *= 4) {
    const groups = new Uint32Array(size), count = new Int32Array([size]);
    const found = _libc().getgrouplist(
      _cString(user),
      gid,
      new Uint8Array(groups.buffer),
      new Uint8Array(count.buffer),
    );
    if (found >= 0) return Array.from(groups.subarray(0, count[0]));
  }
}

/** Sets the supplementary groups of the process. */
export function setgroups(groups: number[]): void {
  const list = new Uint32Array(groups);
  _check("setgroups", _libc().setgroups(BigInt(list.length), new Uint8Array(list.buffer)));
}

/** Sets the real, effective and saved group id. */
export function setgid(gid: number): void {
  _check("setgid", _libc().setgid(gid));
}

/** Sets the real, effective and saved user id (do it last: it drops the right to the others). */
export function setuid(uid: number): void {
  _check("setuid", _libc().setuid(uid));
}

/** What {@linkcode posixSpawn} starts and how. */
export interface PosixSpawnOptions {
  /** Absolute or relative path of the program (no PATH search here). */
  path: string;
  /** argv, including argv[0]. */
  argv: string[];
  /** The whole environment, as `KEY=VALUE` strings. */
  env: string[];
  /** `fds[i]` becomes fd `i` in the child (null: closed there); every other fd is closed there. */
  fds: (number | null)[];
  /** Working directory for the child (default: the caller's). */
  cwd?: string;
  /** Start the child in a new session (and so a new process group, with no terminal). */
  newSession?: boolean;
  /** Put the child in a new process group of its own (ignored with `newSession`). */
  newProcessGroup?: boolean;
}

const _SIGSET_SIZE = 128;

/**
 * Starts a program with `posix_spawn(3)`: exactly the fds in `options.fds`, every
 * signal at its default disposition and none blocked. Exec failures come back
 * exactly (glibc waits for the exec): a {@linkcode SysError} `exec PATH: ENOENT …`.
 * The caller must reap the pid with {@linkcode waitpid}.
 */
export function posixSpawn(options: PosixSpawnOptions): number {
  const lib = _libc();
  // Moved to numbers above every target first, so that no target clobbers a source.
  const sources = options.fds.map((fd) => fd === null ? null : dupCloexec(fd, options.fds.length));
  const attr = new Uint8Array(512), actions = new Uint8Array(512);
  lib.posix_spawnattr_init(attr);
  lib.posix_spawn_file_actions_init(actions);
  try {
    let flags = POSIX_SPAWN.SETSIGMASK | POSIX_SPAWN.SETSIGDEF;
    if (options.newSession) flags |= POSIX_SPAWN.SETSID;
    else if (options.newProcessGroup) flags |= POSIX_SPAWN.SETPGROUP;
    lib.posix_spawnattr_setflags(attr, flags);
    lib.posix_spawnattr_setpgroup(attr, 0);
    lib.posix_spawnattr_setsigmask(attr, new Uint8Array(_SIGSET_SIZE));
    lib.posix_spawnattr_setsigdefault(attr, new Uint8Array(_SIGSET_SIZE).fill(0xff));
    sources.forEach((fd, target) =>
      fd === null
        ? lib.posix_spawn_file_actions_addclose(actions, target)
        : lib.posix_spawn_file_actions_adddup2(actions, fd, target)
    );
    lib.posix_spawn_file_actions_addclosefrom_np(actions, options.fds.length);
    const cwd = options.cwd === undefined ? null : _cString(options.cwd);
    if (cwd) lib.posix_spawn_file_actions_addchdir_np(actions, cwd);
    const args = options.argv.map(_cString), vars = options.env.map(_cString);
    const pid = new Int32Array(1);
    const errno = lib.posix_spawn(
      new Uint8Array(pid.buffer),
      _cString(options.path),
      actions,
      attr,
      _cStringArray(args),
      _cStringArray(vars),
    );
    if (errno !== 0) throw _error(`exec ${options.path}`, errno);
    return pid[0];
  } finally {
    lib.posix_spawn_file_actions_destroy(actions);
    lib.posix_spawnattr_destroy(attr);
    sources.forEach((fd) => fd !== null && lib.close(fd));
  }
}

// --- /proc inspection (opsd fds) ---

/** `statx(2)` flags and masks used by {@linkcode statxAt}. */
export const STATX = {
  /** Answer from cached attributes: a network filesystem does not ask its server. */
  DONT_SYNC: 0x4000,
  /** Describe a symlink itself instead of its target. */
  SYMLINK_NOFOLLOW: 0x100,
  /** Type, mode, link count, owner, inode, size and more. */
  BASIC_STATS: 0x7ff,
} as const;

/** What {@linkcode statxAt} reports. */
export interface Statx {
  /** `st_mode`: file type (`S_IFMT` bits) and permissions. */
  mode: number;
  uid: number;
  ino: number;
  size: number;
  /** Device of the filesystem holding the file, as [major, minor]. */
  dev: [number, number];
  /** For device files, the device itself, as [major, minor]. */
  rdev: [number, number];
}

/**
 * `statx(2)` of `path` relative to `dirFd` (-100 for the working directory).
 * Following a `/proc/PID/fd/N` link describes the open file itself; pass
 * `STATX.DONT_SYNC` so that a network filesystem answers from its cache.
 */
export function statxAt(dirFd: number, path: string, flags: number): Statx {
  const bytes = new Uint8Array(256);
  _check(`statx ${path}`, _libc().statx(dirFd, _cString(path), flags, STATX.BASIC_STATS, bytes));
  const view = new DataView(bytes.buffer);
  const u64 = (offset: number) => Number(view.getBigUint64(offset, true));
  return {
    mode: view.getUint16(28, true),
    uid: view.getUint32(20, true),
    ino: u64(32),
    size: u64(40),
    rdev: [view.getUint32(128, true), view.getUint32(132, true)],
    dev: [view.getUint32(136, true), view.getUint32(140, true)],
  };
}

/**
 * An extended attribute of `path` (following links) as text, or null when it
 * has none. For a socket, `system.sockprotoname` names its protocol
 * (`NETLINK`, `TCP`…), as lsof shows for sockets it finds in no table.
 */
export function getxattrText(path: string, name: string): string | null {
  const value = new Uint8Array(256);
  const length = Number(
    _libc().getxattr(_cString(path), _cString(name), value, BigInt(value.length)),
  );
  if (length < 0) return null;
  const end = value.subarray(0, length).indexOf(0);
  return new TextDecoder().decode(value.subarray(0, end < 0 ? length : end));
}

// --- daemon: positional I/O, process file descriptors, memory files ---

/** Reads up to `buffer.length` bytes at `offset` without moving the file offset (shared by every holder). */
export function pread(fd: number, buffer: Uint8Array<ArrayBuffer>, offset: number): number {
  return _check("pread", _libc().pread(fd, buffer, BigInt(buffer.length), BigInt(offset)));
}

/** Writes `bytes` at `offset` without moving the file offset; returns how many were written. */
export function pwrite(fd: number, bytes: Uint8Array<ArrayBuffer>, offset: number): number {
  return _check("pwrite", _libc().pwrite(fd, bytes, BigInt(bytes.length), BigInt(offset)));
}

/**
 * A process file descriptor for `pid` (close-on-exec): it keeps naming that one
 * process, so a signal sent through it never reaches a later process given the same pid.
 */
export function pidfdOpen(pid: number): number {
  return _check(`pidfd_open ${pid}`, _libc().pidfd_open(pid, 0));
}

/** `memfd_create(2)` flag: the fd is close-on-exec. */
const _MFD_CLOEXEC = 1;

/**
 * A new anonymous file in memory (close-on-exec), named `name` in
 * `/proc/PID/fd`: data for a child to read through an fd it inherits.
 */
export function memfdCreate(name: string): number {
  return _check("memfd_create", _libc().memfd_create(_cString(name), _MFD_CLOEXEC));
}

/** Sends `signal` to the process `pidfd` names (0: only check that it still runs). */
export function pidfdSendSignal(pidfd: number, signal: number): void {
  _check("pidfd_send_signal", _libc().pidfd_send_signal(pidfd, signal, null, 0));
}

// --- supervise: service output pipes, state directory ---

/**
 * Opens `path` relative to the directory open as `dirFd` (`O.*` flags, as
 * {@linkcode open}): the directory is reached through its fd, not by its path
 * again. `shownAs` names the file in errors (by default `path`).
 */
export function openAt(
  dirFd: number,
  path: string,
  flags: number,
  mode = 0o666,
  shownAs = path,
): number {
  return _check(`open ${shownAs}`, _libc().openat(dirFd, _cString(path), flags, mode));
}

/**
 * The target of the symbolic link `path` as bytes (`readlink(2)`): a name need not
 * be UTF-8, which `Deno.readLinkSync` refuses. At most 4096 bytes (PATH_MAX).
 */
export function readLink(path: string): Uint8Array {
  const buffer = new Uint8Array(4096);
  const length = _check(
    `readlink ${path}`,
    _libc().readlinkat(_AT_FDCWD, _cString(path), buffer, BigInt(buffer.length)),
  );
  return buffer.slice(0, length);
}

/** `fcntl` F_SETPIPE_SZ (Linux). */
const _F_SETPIPE_SZ = 1031;

/**
 * Grows the buffer of the pipe `fd` to at least `bytes` (F_SETPIPE_SZ; above
 * /proc/sys/fs/pipe-max-size only for root) and returns the size it got, so a
 * burst of output waits in the kernel instead of blocking the writer.
 */
export function setPipeSize(fd: number, bytes: number): number {
  return _check("fcntl F_SETPIPE_SZ", _libc().fcntl(fd, _F_SETPIPE_SZ, BigInt(bytes)));
}

/** `ioctl` FIONREAD (Linux x86_64 and aarch64). */
const _FIONREAD = 0x541b;

/** How many bytes wait unread in the pipe (or socket) `fd` (ioctl FIONREAD). */
export function bytesUnread(fd: number): number {
  const count = new Int32Array(1);
  _check("ioctl FIONREAD", _libc().ioctl(fd, BigInt(_FIONREAD), new Uint8Array(count.buffer)));
  return count[0];
}

// --- kernel objects: BPF programs and iterators, mapped files (opsd fds) ---

/** bpf(2)'s syscall number, by architecture. */
const _SYS_BPF = Deno.build.arch === "aarch64" ? 280n : 321n;

/**
 * `bpf(2)` command `command` (named `name` in errors, such as `BPF_PROG_LOAD`)
 * with its attributes `attr` (a `union bpf_attr` as bytes; pointers in it must
 * stay alive across the call). Returns what the command returns (often an fd).
 */
export function bpf(command: number, name: string, attr: Uint8Array<ArrayBuffer>): number {
  return _check(
    `bpf ${name}`,
    _libc().syscall_bpf(_SYS_BPF, BigInt(command), attr, BigInt(attr.length)),
  );
}

/** The address of `bytes`, for a pointer field of a struct passed to the kernel. */
export function addressOf(bytes: BufferSource): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
}

/** `madvise` advice: drop the pages (anonymous memory then reads as zeros). */
const _MADV_DONTNEED = 4;

/**
 * Gives the memory of `bytes` back to the kernel (madvise MADV_DONTNEED) while
 * it stays mapped: it reads as zeros afterwards and costs nothing until written
 * again. `bytes` must start at a multiple of {@linkcode DISCARD_UNIT}; a last
 * part smaller than one is kept.
 */
export function discardPages(bytes: Uint8Array<ArrayBuffer>): void {
  const whole = bytes.length - (bytes.length % DISCARD_UNIT);
  if (whole > 0) _check("madvise", _libc().madvise(bytes, BigInt(whole), _MADV_DONTNEED));
}

/**
 * What {@linkcode discardPages} works in: 64 KiB, the largest page size Linux
 * uses (aarch64 kernels may have 64 KiB pages; madvise rounds up to a whole page).
 */
export const DISCARD_UNIT = 65536;

const _PROT_READ = 1, _MAP_PRIVATE = 2, _MAP_FAILED = 0xffffffffffffffffn;

/**
 * Calls `use` with the file `path` mapped read-only (`mmap(2)`) and unmaps it
 * afterwards: `use` must keep no view of the bytes. Sysfs files that allow it
 * (the kernel's BTF since 6.16) are read this way without a copy; null when
 * the file cannot be mapped, so the caller reads it instead.
 */
export function withMappedFile<T>(path: string, use: (bytes: Uint8Array) => T): T | null {
  const length = Deno.statSync(path).size;
  if (length === 0) return null;
  const fd = open(path, O.RDONLY | O.CLOEXEC);
  try {
    const address = _libc().mmap(null, BigInt(length), _PROT_READ, _MAP_PRIVATE, fd, 0n);
    if (address === null || Deno.UnsafePointer.value(address) === _MAP_FAILED) return null;
    try {
      return use(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(address, length)));
    } finally {
      _libc().munmap(address, BigInt(length));
    }
  } finally {
    _libc().close(fd);
  }
}

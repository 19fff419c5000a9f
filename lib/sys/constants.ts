/**
 * Linux constants for the libc calls in `libc.ts`, for x86_64 and aarch64: they
 * agree for everything listed here except O_DIRECTORY and O_NOFOLLOW, which are
 * chosen by architecture.
 *
 * @module
 */

const _ARM64 = Deno.build.arch === "aarch64";

/** Flags for `open(2)` and `pipe2(2)`. */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  NONBLOCK: 0o4000,
  DIRECTORY: _ARM64 ? 0o40000 : 0o200000,
  NOFOLLOW: _ARM64 ? 0o100000 : 0o400000,
  CLOEXEC: 0o2000000,
  /** Names a file without opening it for reading or writing. */
  PATH: 0o10000000,
} as const;

/** `fcntl(2)` commands and flags. */
export const F = {
  DUPFD: 0,
  GETFD: 1,
  SETFD: 2,
  GETFL: 3,
  SETFL: 4,
  GETLK: 5,
  SETLK: 6,
  SETLKW: 7,
  DUPFD_CLOEXEC: 1030,
  OFD_GETLK: 36,
  OFD_SETLK: 37,
  OFD_SETLKW: 38,
  /** FD_CLOEXEC, the one flag of F_GETFD/F_SETFD. */
  FD_CLOEXEC: 1,
  RDLCK: 0,
  WRLCK: 1,
  UNLCK: 2,
} as const;

/** Socket domains, types and options. */
export const SOCK = {
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  AF_PACKET: 17,
  STREAM: 1,
  DGRAM: 2,
  RAW: 3,
  NONBLOCK: 0o4000,
  CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_REUSEADDR: 2,
  SO_REUSEPORT: 15,
  IPPROTO_IPV6: 41,
  IPV6_V6ONLY: 26,
} as const;

/** `flock(2)` operations. */
export const LOCK = { SH: 1, EX: 2, NB: 4, UN: 8 } as const;

/** `waitpid(2)` options. */
export const WNOHANG = 1;

/** `prctl(2)` options. */
export const PR = { SET_PDEATHSIG: 1, SET_NAME: 15, SET_CHILD_SUBREAPER: 36 } as const;

/** `close_range(2)` flags. */
export const CLOSE_RANGE_CLOEXEC = 4;

/** `posix_spawnattr_setflags(3)` flags. */
export const POSIX_SPAWN = {
  RESETIDS: 0x01,
  SETPGROUP: 0x02,
  SETSIGDEF: 0x04,
  SETSIGMASK: 0x08,
  SETSID: 0x80,
} as const;

/** Signal numbers by name (x86_64 and aarch64 agree on these). */
export const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

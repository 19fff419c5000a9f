/**
 * Errno names and the error every failed system call turns into.
 *
 * @module
 */

// Linux errno names, indexed by number (the same on x86_64 and aarch64).
const _NAMES = (
  "- EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN ENOMEM EACCES EFAULT " +
  "ENOTBLK EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY EFBIG " +
  "ENOSPC ESPIPE EROFS EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS ENOTEMPTY " +
  "ELOOP - ENOMSG EIDRM ECHRNG EL2NSYNC EL3HLT EL3RST ELNRNG EUNATCH ENOCSI EL2HLT EBADE EBADR " +
  "EXFULL ENOANO EBADRQC EBADSLT - EBFONT ENOSTR ENODATA ETIME ENOSR ENONET ENOPKG EREMOTE " +
  "ENOLINK EADV ESRMNT ECOMM EPROTO EMULTIHOP EDOTDOT EBADMSG EOVERFLOW ENOTUNIQ EBADFD EREMCHG " +
  "ELIBACC ELIBBAD ELIBSCN ELIBMAX ELIBEXEC EILSEQ ERESTART ESTRPIPE EUSERS ENOTSOCK " +
  "EDESTADDRREQ EMSGSIZE EPROTOTYPE ENOPROTOOPT EPROTONOSUPPORT ESOCKTNOSUPPORT EOPNOTSUPP " +
  "EPFNOSUPPORT EAFNOSUPPORT EADDRINUSE EADDRNOTAVAIL ENETDOWN ENETUNREACH ENETRESET " +
  "ECONNABORTED ECONNRESET ENOBUFS EISCONN ENOTCONN ESHUTDOWN ETOOMANYREFS ETIMEDOUT " +
  "ECONNREFUSED EHOSTDOWN EHOSTUNREACH EALREADY EINPROGRESS ESTALE EUCLEAN ENOTNAM ENAVAIL " +
  "EISNAM EREMOTEIO EDQUOT ENOMEDIUM EMEDIUMTYPE ECANCELED ENOKEY EKEYEXPIRED EKEYREVOKED " +
  "EKEYREJECTED EOWNERDEAD ENOTRECOVERABLE ERFKILL EHWPOISON"
).split(" ");

/** Errno numbers opsd branches on, named as in `<errno.h>`. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  EACCES: 13,
  EEXIST: 17,
  ENOTDIR: 20,
  EINVAL: 22,
  ENOEXEC: 8,
  EPROTO: 71,
  EADDRINUSE: 98,
} as const;

/** The symbolic name of an errno number, such as `EADDRINUSE` for 98. */
export function errnoName(errno: number): string {
  const name = _NAMES[errno];
  return name && name !== "-" ? name : `errno ${errno}`;
}

/**
 * A failed system call: names the call and the errno, so a message reads
 * `bind: EADDRINUSE (address already in use)`.
 *
 * @example
 * ```ts
 * try { bind(fd, addr); } catch (e) { if (e instanceof SysError && e.code === "EADDRINUSE") … }
 * ```
 */
export class SysError extends Error {
  /** The symbolic errno name, such as `ENOENT`. */
  readonly code: string;

  /**
   * @param call what failed: the C function, optionally with its subject (`open /etc/x`)
   * @param errno the errno the call left
   * @param description the C library's text for the errno (strerror)
   */
  constructor(readonly call: string, readonly errno: number, description: string) {
    const code = errnoName(errno);
    super(`${call}: ${code} (${description.charAt(0).toLowerCase()}${description.slice(1)})`);
    this.name = "SysError";
    this.code = code;
  }
}

/**
 * The errno name behind a SysError or one of Deno's file errors (`EROFS`), or null
 * when it names none. Deno gives some errors no code (`File too large (os error
 * 27)`): their number then tells.
 */
export function errorCode(error: unknown): string | null {
  if (error instanceof SysError) return error.code;
  if (!(error instanceof Error)) return null;
  // The errno itself first: Deno's PermissionDenied is EACCES or EPERM.
  if ("code" in error && typeof error.code === "string") return error.code;
  const number = /\(os error (\d+)\)/.exec(error.message)?.[1];
  if (number !== undefined) return errnoName(Number(number));
  if (error instanceof Deno.errors.NotFound) return "ENOENT";
  if (error instanceof Deno.errors.PermissionDenied) return "EACCES";
  if (error instanceof Deno.errors.IsADirectory) return "EISDIR";
  if (error instanceof Deno.errors.NotADirectory) return "ENOTDIR";
  return null;
}

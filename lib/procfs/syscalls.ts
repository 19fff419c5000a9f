/**
 * What this process's own threads are blocked in, from `/proc/self/task/TID/syscall`.
 *
 * @module
 */

/** The number of read(2) on the architectures Deno runs on in Linux. */
const _READ = Deno.build.arch === "aarch64" ? 63 : 0;

/**
 * Whether a thread of this process is asleep in read(2) on an fd that is `link`
 * (as `/proc/self/fd/N` names it, e.g. `pipe:[1234]`); null where the kernel does
 * not say what threads are blocked in (no `/proc/self/task/TID/syscall`, as in
 * some sandboxes), so the caller must judge otherwise.
 *
 * Deno reads a file on a thread of its own; the kernel lists the syscall a thread
 * sleeps in ("running" for one that runs or is about to), so a reader asleep in
 * read on a pipe means that pipe was empty then and every read before was
 * delivered: nothing is on its way to JavaScript.
 */
export function threadAsleepReading(link: string): boolean | null {
  let tasks;
  try {
    tasks = Array.from(Deno.readDirSync("/proc/self/task"));
  } catch {
    return null;
  }
  let told = false;
  for (const task of tasks) {
    const fd = _readFd(task.name);
    if (fd === undefined) continue;
    told = true;
    if (fd !== null && _link(fd) === link) return true;
  }
  return told ? false : null;
}

/**
 * The fd a thread sleeps reading from, null when it is not asleep in read(2), or
 * undefined when that cannot be told (the thread has ended, or no such file).
 */
function _readFd(tid: string): number | null | undefined {
  let text;
  try {
    text = Deno.readTextFileSync(`/proc/self/task/${tid}/syscall`);
  } catch {
    return undefined;
  }
  const [number, fd] = text.split(" ");
  return Number(number) === _READ && fd !== undefined ? Number(fd) : null;
}

function _link(fd: number): string | null {
  try {
    return Deno.readLinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

/**
 * What this process's own threads are blocked in, from `/proc/self/task/TID/syscall`.
 *
 * @module
 */

/** The number of read(2) on the architectures Deno runs on in Linux. */
const _READ = Deno.build.arch === "aarch64" ? 63 : 0;

/**
 * Whether a thread of this process is asleep in read(2) on an fd that is `link`
 * (as `/proc/self/fd/N` names it, e.g. `pipe:[1234]`).
 *
 * Deno reads a file on a thread of its own; the kernel lists the syscall a thread
 * sleeps in ("running" for one that runs or is about to), so a reader asleep in
 * read on a pipe means that pipe was empty then and every read before was
 * delivered: nothing is on its way to JavaScript.
 */
export function threadAsleepReading(link: string): boolean {
  let tasks;
  try {
    tasks = Array.from(Deno.readDirSync("/proc/self/task"));
  } catch {
    return false;
  }
  return tasks.some((task) => {
    const fd = _readFd(task.name);
    return fd !== null && _link(fd) === link;
  });
}

/** The fd a thread sleeps reading from, or null when it is not asleep in read(2). */
function _readFd(tid: string): number | null {
  let text;
  try {
    text = Deno.readTextFileSync(`/proc/self/task/${tid}/syscall`);
  } catch {
    return null; // The thread has ended.
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

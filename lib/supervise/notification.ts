/**
 * s6's readiness notification: a service with `notification-fd = N` gets the write
 * end of a pipe as its fd N, and writes a newline to it once it is ready to serve
 * (then closes it). Until then it is up but not ready: `opsd wait --up` and
 * `opsd supervise --daemon` wait for it, and status says so.
 *
 * @module
 */

import { close } from "../sys/libc.ts";

/**
 * Resolves to true once a newline arrives on the pipe `fd` (the service said it is
 * ready), false when every writer closed it first (it never said so). Takes over
 * `fd` and closes it.
 */
export async function readNotification(fd: number): Promise<boolean> {
  let file: Deno.FsFile | null = null;
  try {
    // Opened anew as a Deno file, so that Deno reads it without blocking the loop.
    file = await Deno.open(`/proc/self/fd/${fd}`, { read: true });
    const buffer = new Uint8Array(512);
    for (let count = await file.read(buffer); count !== null; count = await file.read(buffer)) {
      if (buffer.subarray(0, count).includes(10)) return true;
    }
    return false;
  } finally {
    file?.close();
    close(fd);
  }
}

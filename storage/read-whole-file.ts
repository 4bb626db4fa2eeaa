import { open } from 'node:fs/promises';

/**
 * A file's bytes, read with as few calls as the kernel allows (one, for a file
 * under 2 GiB) instead of `readFile`'s 512 KiB chunks, each of which waits for
 * a turn of the event loop. A read started before a long synchronous
 * computation (parsing another file) so goes on meanwhile, on libuv's pool.
 * The file is read as long as it was when opened; what is not a regular file
 * (a pipe, a device) goes through `readFile`.
 *
 * @throws the error of `open` or `read` (ENOENT, EISDIR, …), as `readFile` would
 */
export async function readWholeFile(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return await handle.readFile();
    const buffer = Buffer.allocUnsafe(stat.size);
    let at = 0;
    while (at < stat.size) {
      const { bytesRead } = await handle.read(buffer, at, stat.size - at, at);
      if (bytesRead === 0) break; // the file shrank meanwhile
      at += bytesRead;
    }
    return at < stat.size ? buffer.subarray(0, at) : buffer;
  } finally {
    await handle.close();
  }
}

import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, rename } from 'node:fs/promises';
import path from 'node:path';

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Temporary file, fsync, rename: a reader sees the old file or the whole new
 * one, never half of it, even when the writer dies mid-write. Returns the
 * SHA-256 of what was written.
 */
export async function writeFileAtomically(target: string, data: string | Uint8Array): Promise<string> {
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.${randomUUID()}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, target);
  return sha256(data);
}

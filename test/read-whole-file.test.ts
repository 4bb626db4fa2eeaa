import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readWholeFile } from '../storage/read-whole-file';

describe('readWholeFile', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ctloop-read-whole-'));

  it('reads a file byte for byte as readFile does, from empty to several megabytes', async () => {
    for (const size of [0, 1, 4095, 65_537, 5 * 2 ** 20 + 3]) {
      const file = path.join(dir, `f-${size}`);
      writeFileSync(file, Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + 7) % 256)));
      const bytes = await readWholeFile(file);
      expect(bytes.length).toBe(size);
      expect(bytes.equals(await readFile(file))).toBe(true);
    }
  });

  it('fails as readFile does on a missing file or a directory', async () => {
    await expect(readWholeFile(path.join(dir, 'missing.csv'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readWholeFile(dir)).rejects.toMatchObject({ code: 'EISDIR' });
  });

  it('reads what is not a regular file through readFile', async () => {
    expect((await readWholeFile('/dev/null')).length).toBe(0);
  });
});

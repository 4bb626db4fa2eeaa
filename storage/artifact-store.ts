import { readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomically } from './atomic-file';
import { readWholeFile } from './read-whole-file';

export { sha256 } from './atomic-file';

/**
 * Where checkpoints and model artifacts live. Every training worker and the
 * serving gateway must see the same store. The interface is small on purpose
 * (put/get/list/remove by key) so that an object store can implement it later;
 * the local implementation is a folder.
 */
export interface ArtifactStore {
  /** Writes atomically and returns the artifact's URI and SHA-256. */
  put(key: string, data: string | Uint8Array): Promise<{ uri: string; sha256: string }>;
  get(uri: string): Promise<Buffer>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Removes a file; one already gone is not an error. */
  remove(uri: string): Promise<void>;
  uriFor(key: string): string;
}

const SCHEME = 'artifact://';

/** A folder-backed store: `artifact://<key>` ↔ `<root>/<key>`. */
export function createLocalArtifactStore(root: string): ArtifactStore {
  const resolve = (uriOrKey: string): string => {
    const key = uriOrKey.startsWith(SCHEME) ? uriOrKey.slice(SCHEME.length) : uriOrKey;
    const full = path.resolve(root, key);
    if (!full.startsWith(path.resolve(root) + path.sep)) {
      throw new Error(`artifact store: key escapes the store: ${uriOrKey}`);
    }
    return full;
  };
  return {
    uriFor: (key) => SCHEME + key,
    async put(key, data) {
      return { uri: SCHEME + key, sha256: await writeFileAtomically(resolve(key), data) };
    },
    get: (uri) => readWholeFile(resolve(uri)),
    async list(prefix) {
      const dir = resolve(prefix);
      try {
        const names = await readdir(dir);
        return names
          .filter((n) => !n.endsWith('.tmp'))
          .sort()
          .map((n) => path.posix.join(prefix, n));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
    },
    // One unlink, not rm's lstat-then-unlink: artifacts are files, and one goes with each checkpoint.
    async remove(uri) {
      await unlink(resolve(uri)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    },
  };
}

/**
 * Reads a dataset named by a model or a trigger: an `artifact://` URI from the
 * store, a `file://` URI, or a plain filesystem path.
 */
export async function readDataText(store: ArtifactStore, uri: string): Promise<string> {
  if (uri.startsWith(SCHEME)) return (await store.get(uri)).toString('utf8');
  const file = uri.startsWith('file://') ? new URL(uri).pathname : uri;
  return readFile(file, 'utf8');
}

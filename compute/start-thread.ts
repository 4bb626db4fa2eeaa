import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

// Run from TypeScript sources (tsx, vitest), a thread cannot start from the .ts file
// itself, and Node 20 does not apply ESM loader hooks (`--import tsx`) inside worker
// threads. tsx's CommonJS hook works in any thread: the thread starts from a line of
// script that installs it and requires the entry (which is why a thread entry imports
// no ESM-only package).
const fromSource = import.meta.url.endsWith('.ts');

/**
 * Starts a worker thread on `entry`, a module next to this one named without
 * its extension (`./drift-thread`): the .js file in a build, the .ts source
 * through tsx otherwise.
 */
export function startThread(entry: string): Worker {
  if (!fromSource) return new Worker(new URL(`${entry}.js`, import.meta.url));
  const tsx = createRequire(import.meta.url).resolve('tsx/cjs/api');
  const file = fileURLToPath(new URL(`${entry}.ts`, import.meta.url));
  const bootstrap = `require(${JSON.stringify(tsx)}).register(); require(${JSON.stringify(file)});`;
  return new Worker(bootstrap, { eval: true });
}

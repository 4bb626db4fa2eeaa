import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * `npm run bench [-- name ...]`: runs the benchmarks one after another (they
 * share the machine, so never in parallel) and writes each one's JSON to
 * bench/results/<name>.json. With names, only those.
 */
const BENCHES = [
  'training-durability',
  'checkpoint-overhead',
  'canary-sequential',
  'canary-rollback',
  'evaluation-gate',
  'drift',
  'drift-vs-evidently',
  'drift-wide',
  'trigger-load',
  'continue-as-new-handover',
  'scale-models',
  'workflow-memory',
  'gateway',
  'gateway-v2',
  'temporal-round-trip',
  'update-cost',
  'fuzz',
  'chaos',
  'vs-prefect',
] as const;

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(BENCHES as readonly string[]).includes(w));
if (unknown.length > 0) {
  console.error(`bench: unknown ${unknown.join(', ')}; choose from ${BENCHES.join(', ')}`);
  process.exit(2);
}
const selected = BENCHES.filter((b) => wanted.length === 0 || wanted.includes(b));
const results: Record<string, unknown> = {};
mkdirSync(path.join('bench', 'results'), { recursive: true });
for (const name of selected) {
  const script = path.join('bench', `${name}.ts`);
  if (!existsSync(script)) continue;
  const started = Date.now();
  console.error(`bench: ${name}…`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', script], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const out = (run.stdout ?? '').trim();
  // The result is the whole output (pretty-printed JSON) or its last JSON line.
  const json = [out, ...out.split('\n').reverse()]
    .map((line) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        return undefined;
      }
    })
    .find((v) => v !== undefined && typeof v === 'object');
  if (run.status !== 0 || !json) {
    results[name] = { error: `exit ${run.status}; no JSON result` };
    continue;
  }
  writeFileSync(path.join('bench', 'results', `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
  results[name] = { seconds: Math.round((Date.now() - started) / 1000), result: json };
}
console.log(JSON.stringify(results));

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Time from a faulty candidate's first canary traffic to the champion serving
 * alone again, in the demo's bad scenario (its own stack: Temporal dev server,
 * PGlite, workers, API; the candidate fails half of its requests).
 *
 *   npx tsx bench/canary-rollback.ts   → bench/results/canary-rollback.json
 */
const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--scenario', 'bad'], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
  timeout: 600_000,
});
const lines = (run.stdout ?? '').trim().split('\n');
const last = lines.at(-1) ?? '';
let result: Record<string, unknown>;
try {
  result = JSON.parse(last) as Record<string, unknown>;
} catch {
  console.error(run.stdout);
  throw new Error(`the demo did not end with its JSON line (exit ${run.status})`);
}
const out = {
  benchmark: 'canary-rollback',
  goal: 'fault to completed rollback ≤ 60 s, judged on ≥ 50 requests per version',
  outcome: result.outcome,
  faultToRollbackSeconds: result.faultToRollbackSeconds,
  samplesAtDecision: result.samplesAtDecision,
  demoTotalSeconds: result.totalSeconds,
  measuredAt: new Date().toISOString(),
};
mkdirSync(path.join('bench', 'results'), { recursive: true });
writeFileSync(path.join('bench', 'results', 'canary-rollback.json'), `${JSON.stringify(out, null, 2)}\n`);
console.log(JSON.stringify(out));

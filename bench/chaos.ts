import { mkdir, writeFile } from 'node:fs/promises';
import { CI_SOAK, FULL_SOAK, runSoak, type SoakConfig } from './lib/chaos/soak';

/**
 * `npm run bench -- chaos`: the chaos soak (bench/lib/chaos/soak.ts) →
 * bench/results/chaos.json. `CHAOS_SOAK=ci` runs the small variant that
 * test/e2e/chaos-soak.test.ts runs; CHAOS_RUNS, CHAOS_MODELS override the size,
 * CHAOS_MAX_MINUTES stops planning runs after that long, CHAOS_KEEP=1 keeps the logs.
 * Exits 1 when an invariant is broken.
 */
const base = process.env.CHAOS_SOAK === 'ci' ? CI_SOAK : FULL_SOAK;
const config: SoakConfig = {
  ...base,
  runs: Number(process.env.CHAOS_RUNS ?? base.runs),
  models: Number(process.env.CHAOS_MODELS ?? base.models),
  keepFiles: process.env.CHAOS_KEEP === '1',
  maxMinutes: process.env.CHAOS_MAX_MINUTES ? Number(process.env.CHAOS_MAX_MINUTES) : undefined,
};
// Interrupted: exit through 'exit' so the soak's servers and processes are stopped with it.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const result = await runSoak(config);
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/chaos.json', `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);

import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fastPolicy, registerModel, trigger, writeDataset } from '../scripts/lib/scenario';
import { modelStateQuery, modelWorkflowId } from '../workflows/messages';
import { startControlStack } from './lib/control-stack';
import { oneTriggerUpdates } from './lib/one-trigger';

/**
 * `npm run bench -- temporal-round-trip`: the floor under the trigger
 * endpoint's latency. On the same stack as bench/trigger-load.ts (Temporal dev
 * server, Postgres, a control worker as its own process), one call at a time
 * against an idle model workflow whose run waits in training: `describe`
 * (the server alone), a query (server and worker, no history), and the
 * one-trigger update the API sends (server, worker and a workflow task in the
 * history). Every trigger answered with its fate waits for at least one such
 * update; under load, for the batch ahead of it too.
 *
 *   npx tsx bench/temporal-round-trip.ts [--calls 100]
 *
 * Writes bench/results/temporal-round-trip.json and prints the same JSON.
 */

const i = process.argv.indexOf('--calls');
const CALLS = i >= 0 ? Number(process.argv[i + 1]) : 100;
if (!Number.isInteger(CALLS) || CALLS < 10)
  throw new Error('bench/temporal-round-trip: --calls must be ≥ 10');

function summary(ms: number[]) {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 10) / 10;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), min: at(0) };
}

async function main() {
  const control = await startControlStack();
  const { stack } = control;
  try {
    const api = stack.api();
    const model = 'round-trip';
    await registerModel(
      api,
      model,
      await writeDataset(stack.dataDir, 'rt', { rows: 500, seed: 5 }),
      fastPolicy(),
    );
    await trigger(api, model, { reason: 'manual' });
    const handle = stack.client.workflow.getHandle(modelWorkflowId(model));
    const calls = {
      describe: () => handle.describe(),
      query: () => handle.query(modelStateQuery),
      update: oneTriggerUpdates(handle),
    };
    const ms: Record<keyof typeof calls, number[]> = { describe: [], query: [], update: [] };
    // Interleaved, one at a time, with a pause: the calls see the same machine and an idle server.
    for (let k = 0; k < CALLS + 10; k++) {
      for (const [kind, call] of Object.entries(calls) as [keyof typeof calls, () => Promise<unknown>][]) {
        const start = performance.now();
        await call();
        if (k >= 10) ms[kind].push(performance.now() - start); // the first ten warm up
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const result = {
      bench: 'temporal-round-trip',
      at: new Date().toISOString(),
      machine: `${os.cpus().length} cores, load average ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')} at the end`,
      calls: CALLS,
      ms: { describe: summary(ms.describe), query: summary(ms.query), triggerUpdate: summary(ms.update) },
    };
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/temporal-round-trip.json', `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result));
  } finally {
    await control.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

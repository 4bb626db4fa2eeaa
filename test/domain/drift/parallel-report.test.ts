import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { driftReportOfData } from '../../../activities/drift';
import { closeDriftThreads, driftThreadCount } from '../../../compute/drift-threads';
import type { DriftFeature } from '../../../domain/drift/report';
import { normalSample, seededRandom } from '../../../domain/random';
import { createLocalArtifactStore } from '../../../storage/artifact-store';

// The threaded path (compute/drift-threads) must give the one-thread report exactly:
// same statistics, same p-value correction, same verdict, same errors.
const dir = mkdtempSync(path.join(tmpdir(), 'ctloop-parallel-drift-'));
const store = createLocalArtifactStore(dir);
afterAll(async () => {
  await closeDriftThreads();
  rmSync(dir, { recursive: true, force: true });
});

const features: DriftFeature[] = [
  ...Array.from({ length: 7 }, (_, c) => ({ name: `x${c}`, kind: 'numeric' as const })),
  { name: 'plan', kind: 'categorical' },
  { name: 'region', kind: 'categorical' },
];

/** A seeded CSV: 7 numeric columns (some shifted when `drift`), 2 categorical, missing cells, a column ignored. */
function writeBatch(name: string, seed: number, rows: number, drift: boolean): string {
  const rand = seededRandom(seed);
  const plans = drift ? ['basic', 'pro', 'pro', 'team', 'trial'] : ['basic', 'basic', 'pro', 'team'];
  const lines = [`${features.map((f) => f.name).join(',')},ignored`];
  for (let r = 0; r < rows; r++) {
    const numbers = Array.from({ length: 7 }, (_, c) => {
      if (rand() < 0.01) return r % 2 === 0 ? '' : 'NA';
      const x = (drift && c % 3 === 0 ? 0.2 : 0) + normalSample(rand) * (c + 1);
      return c === 6 ? String(Math.round(x)) : x.toFixed(5); // x6: many ties
    });
    const plan = rand() < 0.02 ? '' : plans[Math.floor(rand() * plans.length)]!;
    const region = `"r${Math.floor(rand() * 4)}"`;
    lines.push(`${numbers.join(',')},${plan},${region},${r}`);
  }
  const file = path.join(dir, `${name}.csv`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('drift report on threads', () => {
  const referenceUri = writeBatch('reference', 1, 30_000, false);
  const drifted = writeBatch('drifted', 2, 25_000, true);
  const steady = writeBatch('steady', 3, 12_000, false);

  it.each([
    ['a drifted batch', drifted, 2],
    ['a drifted batch, more threads than cores', drifted, 5],
    ['a batch from the same distribution', steady, 3],
  ])('%s: the same report as one thread', async (_name, currentUri, threads) => {
    const input = { referenceUri, currentUri, features, policy: { correction: 'bh' as const } };
    const single = await driftReportOfData(store, input, 1);
    const parallel = await driftReportOfData(store, input, threads);
    expect(parallel).toStrictEqual(single);
    expect(single.features.map((f) => f.kind)).toEqual([
      ...Array(7).fill('numeric'),
      'categorical',
      'categorical',
    ]);
    expect(single.features.every((f) => f.reference.missing >= 0 && f.current.count > 0)).toBe(true);
  });

  it('finds the drift the batch was made with', async () => {
    const report = await driftReportOfData(store, { referenceUri, currentUri: drifted, features }, 2);
    expect(report.verdict.drifted).toBe(true);
    expect(report.features.find((f) => f.name === 'plan')!.drifted).toBe(true);
  });

  it.each([
    ['a cell that is not a number', 'x0,x1\n1,2\nabc,3\n', [{ name: 'x0', kind: 'numeric' as const }]],
    ['a column the file lacks', 'x0,x1\n1,2\n', [{ name: 'x9', kind: 'numeric' as const }]],
    [
      'a feature with no finite values',
      'x0,x1\nNA,2\n,3\n',
      [
        { name: 'x1', kind: 'numeric' as const },
        { name: 'x0', kind: 'numeric' as const },
      ],
    ],
  ])('fails with the same error as one thread: %s', async (_name, text, badFeatures) => {
    const currentUri = path.join(dir, `bad-${badFeatures.length}-${text.length}.csv`);
    writeFileSync(currentUri, text);
    const small = path.join(dir, 'small-reference.csv');
    writeFileSync(small, 'x0,x1\n1,2\n3,4\n');
    const input = { referenceUri: small, currentUri, features: badFeatures };
    const single = await driftReportOfData(store, input, 1).catch((err: Error) => err.message);
    expect(single).toMatch(/^(csvColumns|driftReport): /);
    await expect(driftReportOfData(store, input, 2)).rejects.toThrow(single as string);
  });

  it('reads the thread count from CTLOOP_DRIFT_THREADS', () => {
    expect(driftThreadCount({ CTLOOP_DRIFT_THREADS: '3' })).toBe(3);
    expect(driftThreadCount({})).toBeGreaterThanOrEqual(1);
    expect(driftThreadCount({})).toBeLessThanOrEqual(4);
    expect(() => driftThreadCount({ CTLOOP_DRIFT_THREADS: '0' })).toThrow(
      "CTLOOP_DRIFT_THREADS must be a positive integer, got '0'",
    );
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { driftReportOfData, driftReportOfSketch, storeReferenceSketch } from '../activities/drift';
import { closeDriftThreads } from '../compute/drift-threads';
import type { NumericFeatureDrift } from '../domain/drift/report';
import { generateDataset } from '../domain/synthetic-data';
import { createLocalArtifactStore } from '../storage/artifact-store';

/**
 * The drift activity's sketch path on files: a CSV reference sketched as
 * training does, a Parquet batch (pyarrow, Snappy) measured on one thread and
 * on two (each thread reading its own column groups): the same report, within
 * the stated tolerances of the exact one.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'ctloop-sketch-'));
afterAll(async () => {
  await closeDriftThreads();
  rmSync(dir, { recursive: true, force: true });
});

describe('driftReportOfSketch', () => {
  it('gives the same report on one thread and on two, within tolerance of the exact report', async () => {
    const store = createLocalArtifactStore(path.join(dir, 'artifacts'));
    const reference = path.join(dir, 'reference.csv');
    writeFileSync(reference, generateDataset({ rows: 12_000, seed: 5 }));
    // 1,500 rows of generateDataset({seed: 86, shift: 1.5}) written by pyarrow with Snappy pages.
    const batch = new URL('./domain/drift/fixtures/shifted-1500.parquet', import.meta.url).pathname;
    const features = ['x1', 'x2', 'x3', 'x4'].map((name) => ({ name, kind: 'numeric' as const }));
    const sketchUri = await storeReferenceSketch(store, {
      key: 'm/r/reference-sketch.bin',
      dataUri: reference,
      features,
    });

    const one = await driftReportOfSketch(store, { sketchUri, currentUri: batch, features }, 1);
    const two = await driftReportOfSketch(store, { sketchUri, currentUri: batch, features }, 2);
    expect(two).toEqual(one);
    expect(one!.referenceSketch).toEqual({ uri: sketchUri, resolution: 2000 });

    const exact = await driftReportOfData(store, { referenceUri: reference, currentUri: batch, features }, 1);
    exact.features.forEach((e, i) => {
      const s = one!.features[i] as NumericFeatureDrift;
      expect(s.psi).toBe(e.psi);
      expect(s.statistic).toBeLessThanOrEqual(e.statistic);
      expect(e.statistic).toBeLessThanOrEqual(s.statisticUpperBound!);
    });
    // The reasons quote each D, which the sketch gives as a lower bound: the verdict itself is the same.
    expect(one!.verdict).toMatchObject({ drifted: exact.verdict.drifted, share: exact.verdict.share });

    // A policy the sketch cannot serve (bins not dividing 2,000): null, the caller reads the data.
    expect(
      await driftReportOfSketch(store, { sketchUri, currentUri: batch, features, policy: { bins: 3 } }, 1),
    ).toBeNull();
  });
});

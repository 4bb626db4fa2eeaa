/**
 * The V2 (Open Inference Protocol) serving adapter against a real MLServer
 * process running ctloop's runtime: a version is loaded through the
 * repository API and answers exactly what ctloop computes itself; a restart
 * of the server loads it again from its repository; errors say what the
 * server said.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../domain/csv';
import { fitLogReg } from '../../domain/logistic-regression';
import { predictServable } from '../../domain/servable-model';
import { generateDataset } from '../../domain/synthetic-data';
import { createV2Server, V2ServerError } from '../../serving/v2-server';
import { type MlServerProcess, startMlServer } from '../helpers/mlserver';

describe('the V2 serving adapter on MLServer', () => {
  let server: MlServerProcess;
  beforeAll(async () => {
    server = await startMlServer();
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
  });

  const table = parseCsv(generateDataset({ rows: 300, seed: 9 }));
  const features = table.columns.filter((c) => c !== 'label');
  const X = table.rows.map((r) => features.map((f) => Number(r[table.columns.indexOf(f)])));
  const y = table.rows.map((r) => Number(r[table.columns.indexOf('label')]));

  it('loads a version and answers what ctloop computes, missing values included', async () => {
    const v2 = createV2Server({ url: server.url, repository: server.repository });
    const model = fitLogReg(X, y, { epochs: 50, learningRate: 0.5, l2: 0.001, seed: 1 }, features);
    await v2.load('churn', 3, model);
    const rows = [...X.slice(0, 20), [null, 1, null, -2]];
    const answers = await v2.infer('churn', 3, rows);
    const expected = rows.map((r) => predictServable(model, r));
    for (const [i, p] of answers.entries()) expect(p).toBeCloseTo(expected[i]!, 12);

    // A restarted server loads what its repository holds.
    await server.stop();
    await server.restart();
    expect(await v2.infer('churn', 3, [X[0]!])).toEqual([answers[0]]);
  }, 120_000);

  it('says what the server said when it refuses, and when it is gone', async () => {
    const v2 = createV2Server({ url: server.url, repository: server.repository });
    const refused = await v2.infer('churn', 99, [X[0]!]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(V2ServerError);
    expect((refused as V2ServerError).status).toBe(404);
    const bad = await v2.load('broken', 1, { kind: 'tree' } as never).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(V2ServerError);
    expect((bad as Error).message).toMatch(/unknown artifact kind 'tree'|features/);
    const gone = createV2Server({ url: 'http://127.0.0.1:1', repository: server.repository });
    const unreachable = await gone.infer('churn', 3, [X[0]!]).catch((e: unknown) => e);
    expect((unreachable as Error).message).toMatch(/model server http:\/\/127.0.0.1:1 unreachable/);
  });
});

import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { inProcessApi } from '../../api/client';
import { triggers } from '../../db/schema';
import { fastPolicy, registerModel, writeDataset } from '../../scripts/lib/scenario';
import { type Stack, startStack } from '../helpers/stack';

describe('the API answers bad input with a 4xx JSON error, never a crash', () => {
  let stack: Stack;
  let api: ReturnType<typeof inProcessApi>;
  beforeAll(async () => {
    stack = await startStack({ workers: false });
    api = stack.api();
    await registerModel(
      api,
      'known',
      await writeDataset(stack.dataDir, 'd', { rows: 300, seed: 1 }),
      fastPolicy(),
    );
  });
  afterAll(async () => {
    await stack?.close();
  });

  const raw = (path: string, init: RequestInit) => stack.app.request(path, init);

  it.each([
    ['GET', '/v1/models/nope', undefined, 404, 'not_found'],
    ['GET', '/v1/models/nope/runs', undefined, 404, 'not_found'],
    ['GET', '/v1/models/known/runs/no-such-run', undefined, 404, 'not_found'],
    ['GET', '/v1/models/known/versions/7', undefined, 404, 'not_found'],
    ['GET', '/v1/models/known/versions/abc', undefined, 400, 'invalid_request'],
    ['GET', '/v1/nothing-here', undefined, 404, 'not_found'],
    ['POST', '/v1/models/nope/triggers', { reason: 'drift' }, 404, 'not_found'],
    ['POST', '/v1/models/known/triggers', { reason: 'because' }, 400, 'invalid_request'],
    ['POST', '/v1/models/known/triggers', { reason: 'drift', dedupKey: '' }, 400, 'invalid_request'],
    ['POST', '/v1/models', { name: 'Bad Name!', dataUri: 'x', policy: fastPolicy() }, 400, 'invalid_request'],
    ['POST', '/v1/models', { name: 'known', dataUri: 'x', policy: fastPolicy() }, 409, 'model_exists'],
    ['POST', '/v1/models', { name: 'nopolicy', dataUri: 'x' }, 400, 'invalid_request'],
    [
      'POST',
      '/v1/models',
      { name: 'badsteps', dataUri: 'x', policy: fastPolicy({ canary: { steps: [50, 10] } }) },
      400,
      'invalid_request',
    ],
    ['PUT', '/v1/models/known', {}, 400, 'invalid_request'],
    ['POST', '/v1/models/known/runs/r1/approve', { reason: 5 }, 400, 'invalid_request'],
    ['POST', '/v1/models/known/runs/r1/approve', { by: 'alice' }, 404, 'not_found'],
    ['POST', '/v1/models/known/rollback', { by: 'alice', reason: 'x' }, 409, 'nothing_to_roll_back'],
    ['POST', '/v1/models/known/predict', { features: { x1: 1 } }, 409, 'no_model_served'],
    ['POST', '/v1/models/known/predict', { features: 'x1=1' }, 400, 'invalid_request'],
    ['POST', '/v1/models/known/feedback', { predictionId: 'not-a-uuid', label: 1 }, 400, 'invalid_request'],
    [
      'POST',
      '/v1/models/known/feedback',
      { predictionId: '00000000-0000-4000-8000-000000000000', label: 1 },
      404,
      'unknown_prediction',
    ],
    ['PUT', '/v1/models/known/versions/3/fault', { errorRate: 2, by: 'x' }, 400, 'invalid_request'],
  ] as const)('%s %s %j → %i %s', async (method, path, body, status, code) => {
    const res = await api(method, path, body);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe('string');
    expect(res.body.error.message.length).toBeGreaterThan(0);
  });

  it('refuses a body over 1 MiB with 413 before reading it, whether it states its length or streams', async () => {
    const auth = { authorization: `Bearer ${stack.tokens.admin}`, 'content-type': 'application/json' };
    const big = JSON.stringify({ features: { x1: 1 }, pad: 'x'.repeat(1024 * 1024) });
    // Sent without a length (as a stream is): counted while read.
    const streamed = await raw('/v1/models/known/predict', { method: 'POST', headers: auth, body: big });
    // A stated length over the limit: refused on the header alone.
    const stated = await raw('/v1/models/known/triggers', {
      method: 'POST',
      headers: { ...auth, 'content-length': String(1024 * 1024 * 1024) },
      body: '{}',
    });
    for (const res of [streamed, stated]) {
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('too_large');
    }
    // Just under the limit is read and judged as any body.
    const fits = await raw('/v1/models/known/predict', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ features: { x1: 1 }, pad: 'x'.repeat(1000 * 1000) }),
    });
    expect(fits.status).toBe(409);
    // A drift report export may be far larger (per-column histograms): it is read, and judged by its schema.
    const report = await raw('/v1/models/known/drift-reports', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(report.status).toBe(400);
    expect(((await report.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
  });

  it('says which field is wrong', async () => {
    const res = await api('POST', '/v1/models', {
      name: 'm2',
      dataUri: 'x',
      policy: fastPolicy({ evaluation: { alpha: 2 } }),
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues).toEqual([
      expect.objectContaining({ path: 'policy.evaluation.alpha' }),
    ]);
  });

  it.each([['/v1/models/known/versions/4294967296'], ['/v1/models/known/versions/2147483648/lineage']])(
    'answers a version beyond its 32-bit column (%s) with a 400 naming the parameter',
    async (path) => {
      const res = await api('GET', path);
      expect(res.status).toBe(400);
      expect(res.body.error.details.issues).toEqual([expect.objectContaining({ path: 'version' })]);
    },
  );

  it('refuses a body that names a version beyond its column, before any query', async () => {
    const res = await stack.api().v1.models[':model'].metrics.$post({
      param: { model: 'known' },
      json: { points: [{ metric: 'accuracy', value: 0.9, version: 2 ** 32 }] },
    });
    expect(res.status).toBe(400);
  });

  it('answers unfreeze without its required body with a 400, and leaves the model as it was', async () => {
    const res = await raw('/v1/models/known/unfreeze', {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.tokens.admin}` },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    const model = await api('GET', '/v1/models/known');
    expect(model.body.freeze).toMatchObject({ frozen: false, by: null });
  });

  it('answers a method a known path does not have with 405 and the methods it has', async () => {
    const res = await raw('/v1/models/known/versions', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${stack.tokens.vera}` },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });

  it('rejects malformed JSON and a missing body with 400 JSON errors', async () => {
    const malformed = await raw('/v1/models/known/triggers', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.tokens.admin}` },
      body: '{"reason": "drift"',
    });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe('invalid_request');

    const missing = await raw('/v1/models/known/triggers', {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.tokens.admin}` },
    });
    expect(missing.status).toBeGreaterThanOrEqual(400);
    expect(missing.status).toBeLessThan(500);
    expect(((await missing.json()) as { error: unknown }).error).toBeDefined();
  });

  it('refuses text holding a NUL character, naming where, and stores nothing', async () => {
    const stored = async () =>
      (await stack.database.db.select({ n: count() }).from(triggers).where(eq(triggers.model, 'known')))[0]!
        .n;
    const before = await stored();
    const res = await api('POST', '/v1/models/known/triggers', {
      reason: 'drift',
      details: { monitor: 'm', columns: ['ok', 'bad\u0000name'] },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'invalid_request',
      details: { path: '$.details.columns[1]' },
    });
    expect(res.body.error.message).toMatch(/NUL/);
    const key = await api('POST', '/v1/models/known/triggers', { reason: 'drift', dedupKey: 'a\u0000' });
    expect(key.status).toBe(400);
    expect(key.body.error.details.path).toBe('$.dedupKey');
    expect(await stored()).toBe(before);
  });

  it('serves its OpenAPI description and a health check', async () => {
    const spec = await api('GET', '/openapi.json');
    expect(spec.status).toBe(200);
    expect(Object.keys(spec.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/models',
        '/v1/models/{model}/triggers',
        '/v1/models/{model}/runs/{runId}/approve',
        '/v1/models/{model}/rollback',
        '/v1/models/{model}/predict',
      ]),
    );
    const health = await api('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({
      status: 'ok',
      checks: { database: 'ok', temporal: 'ok' },
      checkedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });
});

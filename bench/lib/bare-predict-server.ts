/**
 * The physical limit of the serving path on this machine, for
 * `bench/gateway.ts`: a bare Hono handler (same framework and Node server as
 * the API) that computes the same model artifact (CTLOOP_BENCH_ARTIFACT, a
 * model.json) and answers the same JSON as `POST /v1/models/:model/predict`,
 * with no authentication, validation, routing, recording or metrics.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { isServableModel, predictByName } from '../../domain/servable-model';

const artifact: unknown = JSON.parse(readFileSync(process.env.CTLOOP_BENCH_ARTIFACT ?? '', 'utf8'));
if (!isServableModel(artifact)) throw new Error('CTLOOP_BENCH_ARTIFACT is not a servable model');
const model = artifact;

const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));
app.post('/v1/models/:model/predict', async (c) => {
  const body = (await c.req.json()) as { features: Record<string, number | null> };
  const probability = predictByName(model, body.features);
  return c.json({
    predictionId: randomUUID(),
    version: 1,
    role: 'champion',
    probability,
    label: probability >= 0.5 ? 1 : 0,
  });
});

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 0), hostname: '127.0.0.1' });
process.once('SIGTERM', () => server.close(() => process.exit(0)));

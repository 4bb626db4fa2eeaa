import { randomUUID } from 'node:crypto';
import { and, desc, eq, gte, inArray, sql } from 'drizzle-orm';
import { median } from 'simple-statistics';
import type { Db } from '../db/client';
import { models, modelVersions, predictionStats, routes } from '../db/schema';
import type { VersionTraffic } from '../domain/canary-analysis';
import { chooseVersion } from '../domain/routing';
import { isServableModel, predictServable, rowByName, type ServableModel } from '../domain/servable-model';
import type { ArtifactStore } from '../storage/artifact-store';
import {
  createPredictionWriter,
  PREDICTION_STATS_LATENCY_CAP,
  type PredictionWriterOptions,
  RecordingBacklogError,
} from './prediction-writer';
import { createTtlCache } from './ttl-cache';
import type { V2Server } from './v2-server';

/**
 * The builtin serving gateway: routes each request to the champion or the
 * canary candidate by weight (sticky by request key), runs the real model
 * artifact, and records every prediction per version so that the canary
 * analysis and later feedback can use it. Recording is off the request path:
 * a prediction is answered at once and written with others in the next flush
 * (serving/prediction-writer.ts).
 */
export interface PredictRequest {
  readonly features: Readonly<Record<string, number | null>>;
  /** Sticky routing key (e.g. a user id); a random key when absent. */
  readonly key?: string;
}

export interface PredictResponse {
  readonly predictionId: string;
  readonly version: number;
  readonly role: 'champion' | 'candidate';
  readonly probability: number;
  readonly label: 0 | 1;
}

export class GatewayError extends Error {
  constructor(
    readonly code:
      | 'no_model_served'
      | 'bad_features'
      | 'model_error'
      | 'unknown_prediction'
      | 'recording_backlog',
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/**
 * The serving adapter: what ctloop needs from the layer that serves models.
 * The builtin gateway (below) serves artifacts itself and records every
 * prediction; an external platform (a Kubernetes/KServe traffic split, a
 * managed endpoint) implements the same four calls, with `traffic` read from
 * its own request logs or metrics, and is passed to the workers and the API
 * in place of `createGateway`.
 */
export interface Gateway {
  predict(model: string, request: PredictRequest): Promise<PredictResponse>;
  feedback(model: string, predictionId: string, label: 0 | 1): Promise<void>;
  /** Changes the routing and returns when (database clock) the change took effect. */
  setRoute(
    model: string,
    route: { championVersion: number | null; candidateVersion: number | null; candidateWeight: number },
  ): Promise<{ since: Date }>;
  /**
   * Per-version traffic since a time, for the canary analysis: counts, and the
   * latencies of the most recent `latencySample` requests per version (default
   * DEFAULT_LATENCY_SAMPLE; 0 leaves `latencyMs` out). Traffic is counted per
   * routing: the routing in effect at `since` counts whole (from its start),
   * and every routing set after it.
   */
  traffic(
    model: string,
    versions: readonly number[],
    since: Date,
    options?: { latencySample?: number },
  ): Promise<Map<number, VersionTraffic>>;
  /** Forgets what this process cached of a model's routing and versions (after a change made elsewhere, e.g. a fault drill). */
  invalidate(model: string): void;
  /** Writes the predictions and labels still buffered (on shutdown); returns how many it could not write. */
  close(): Promise<{ unwritten: number }>;
}

/**
 * Latencies per version the canary ranks by default. The sample travels in the
 * run workflow's history on every poll, so it is capped (the most recent
 * requests, at 0.001 ms resolution) rather than growing with traffic.
 */
export const DEFAULT_LATENCY_SAMPLE = PREDICTION_STATS_LATENCY_CAP;

/**
 * How long a gateway reuses the routing and version settings it read: a
 * routing change (canary step, rollback) or a fault drill made by another
 * process reaches every replica within this.
 */
export const SERVING_CACHE_TTL_MS = 1000;

/** What the gateway reports for each prediction it records (e.g. to metrics); latency as recorded, in ms. */
export type PredictionObserver = (prediction: {
  readonly model: string;
  readonly version: number;
  readonly role: 'champion' | 'candidate';
  readonly error: boolean;
  readonly latencyMs: number;
}) => void;

export function createGateway(deps: {
  db: Db;
  artifacts: ArtifactStore;
  random?: () => number;
  observe?: PredictionObserver;
  recording?: PredictionWriterOptions;
  /** How long routing and version settings read from the database are reused (default SERVING_CACHE_TTL_MS). */
  cacheTtlMs?: number;
  /** The external V2 model server that models with `serving.backend: v2` are forwarded to. */
  v2Server?: V2Server;
}): Gateway {
  const { db, artifacts } = deps;
  const random = deps.random ?? Math.random;
  const writer = createPredictionWriter(db, deps.recording);
  // Artifacts are immutable once registered, so a loaded model is cached by URI.
  const loaded = new Map<string, Promise<ServableModel>>();

  const loadModel = (uri: string): Promise<ServableModel> => {
    let model = loaded.get(uri);
    if (!model) {
      model = artifacts.get(uri).then((buf) => {
        const parsed: unknown = JSON.parse(buf.toString('utf8'));
        if (!isServableModel(parsed))
          throw new Error(`artifact ${uri} is not a model this gateway can serve`);
        return parsed;
      });
      model.catch(() => loaded.delete(uri));
      loaded.set(uri, model);
    }
    return model;
  };

  // The hot path reads no database: the routing and each version's settings are cached for
  // `cacheTtlMs` (a change made by another process reaches this one within that), and this
  // process's own changes (setRoute, invalidate) take effect at once.
  const cacheTtlMs = deps.cacheTtlMs ?? SERVING_CACHE_TTL_MS;
  const routeOf = createTtlCache<string, typeof routes.$inferSelect | null>({
    ttlMs: cacheTtlMs,
    load: async (model) => (await db.select().from(routes).where(eq(routes.model, model)))[0] ?? null,
  });
  const versionKey = (model: string, version: number) => `${model}\u0000${version}`;
  const versionOf = createTtlCache<
    string,
    { artifactUri: string; faultErrorRate: number; backend: string | null }
  >({
    ttlMs: cacheTtlMs,
    load: async (key) => {
      const [model, version] = key.split('\u0000') as [string, string];
      const [row] = await db
        .select({
          artifactUri: modelVersions.artifactUri,
          faultErrorRate: modelVersions.faultErrorRate,
          backend: sql<string | null>`${models.policy}->'serving'->>'backend'`,
        })
        .from(modelVersions)
        .innerJoin(models, eq(models.name, modelVersions.model))
        .where(and(eq(modelVersions.model, model), eq(modelVersions.version, Number(version))));
      if (!row) throw new GatewayError('no_model_served', `version ${version} of ${model} is not registered`);
      return row;
    },
  });
  const invalidate = (model: string) => {
    routeOf.delete(model);
    versionOf.deleteWhere((key) => key.startsWith(`${model}\u0000`));
  };

  return {
    async predict(model, request) {
      const route = await routeOf.get(model);
      const key = request.key ?? random().toString(36).slice(2);
      const chosen = route
        ? chooseVersion(
            {
              champion: route.championVersion,
              candidate: route.candidateVersion,
              candidateWeight: route.candidateWeight,
            },
            key,
          )
        : null;
      if (!chosen)
        throw new GatewayError('no_model_served', `model ${model} has no version in production yet`);
      const started = performance.now();
      const version = await versionOf.get(versionKey(model, chosen.version));
      const artifact = await loadModel(version.artifactUri);
      let row: (number | null)[];
      try {
        row = rowByName(artifact, request.features);
      } catch (err) {
        throw new GatewayError('bad_features', (err as Error).message, { expected: artifact.features });
      }
      // The model's answer, from this process or from the V2 server; a server's failure is the version's error.
      let probability = Number.NaN;
      let serverError: string | null = null;
      if (version.backend === 'v2') {
        try {
          if (!deps.v2Server)
            throw new Error('no V2 model server is configured in this process (CTLOOP_V2_URL)');
          [probability = Number.NaN] = await deps.v2Server.infer(model, chosen.version, [row]);
        } catch (err) {
          serverError = (err as Error).message;
        }
      } else {
        try {
          probability = predictServable(artifact, row);
        } catch (err) {
          throw new GatewayError('bad_features', (err as Error).message, { expected: artifact.features });
        }
      }
      const failed =
        serverError !== null || (version.faultErrorRate > 0 && random() < version.faultErrorRate);
      const latencyMs = performance.now() - started;
      const predictionId = randomUUID();
      await writer
        .record({
          id: predictionId,
          model,
          version: chosen.version,
          role: chosen.role,
          requestKey: request.key ?? null,
          prediction: failed ? null : probability,
          error: failed,
          latencyMs,
          createdAt: new Date(),
          routeSince: route!.updatedAt,
          label: null,
          labelledAt: null,
        })
        .catch((err: unknown) => {
          if (err instanceof RecordingBacklogError) throw new GatewayError('recording_backlog', err.message);
          throw err;
        });
      deps.observe?.({ model, version: chosen.version, role: chosen.role, error: failed, latencyMs });
      if (failed) {
        const why = serverError ?? 'injected fault';
        throw new GatewayError('model_error', `version ${chosen.version} failed to answer (${why})`, {
          version: chosen.version,
          predictionId,
        });
      }
      return {
        predictionId,
        version: chosen.version,
        role: chosen.role,
        probability,
        label: probability >= 0.5 ? 1 : 0,
      };
    },

    async feedback(model, predictionId, label) {
      if (!(await writer.feedback(model, predictionId, label))) {
        throw new GatewayError('unknown_prediction', `no prediction ${predictionId} for model ${model}`);
      }
    },

    async setRoute(model, route) {
      // The database's clock stamps the change, so that `traffic(since)` compares like with like.
      const values = { model, ...route, updatedAt: sql`now()` };
      const [row] = await db
        .insert(routes)
        .values(values)
        .onConflictDoUpdate({ target: routes.model, set: values })
        .returning({ updatedAt: routes.updatedAt });
      routeOf.delete(model);
      return { since: row!.updatedAt };
    },

    async traffic(model, versions, since, options = {}) {
      const latencySample = options.latencySample ?? DEFAULT_LATENCY_SAMPLE;
      // The routing in effect at `since` counts from its start (a bake looks at the traffic of the
      // promotion's routing, set a moment before it began); any routing set later counts too.
      const [route] = await db
        .select({ updatedAt: routes.updatedAt })
        .from(routes)
        .where(eq(routes.model, model));
      const from = route && route.updatedAt <= since ? route.updatedAt : since;
      // The writer's aggregates, one row per version and routing, newest routing first.
      const rows = await db
        .select()
        .from(predictionStats)
        .where(
          and(
            eq(predictionStats.model, model),
            inArray(predictionStats.version, [...versions]),
            gte(predictionStats.routeSince, from),
          ),
        )
        .orderBy(desc(predictionStats.routeSince));
      const result = new Map<number, VersionTraffic>();
      for (const version of versions) {
        const mine = rows.filter((r) => r.version === version);
        // Newest first: each row keeps its latencies oldest first.
        const latencies = mine.flatMap((r) => [...r.latenciesMs].reverse());
        const sum = (pick: (r: (typeof mine)[number]) => number) => mine.reduce((n, r) => n + pick(r), 0);
        result.set(version, {
          requests: sum((r) => r.requests),
          errors: sum((r) => r.errors),
          labelled: sum((r) => r.labelled),
          correct: sum((r) => r.correct),
          // The median of the latencies kept (the most recent of each routing), not of every request.
          latencyMsP50: latencies.length === 0 ? null : median(latencies),
          ...(latencySample > 0 ? { latencyMs: latencies.slice(0, latencySample) } : {}),
        });
      }
      return result;
    },

    invalidate,

    close: () => writer.close(),
  };
}

import { createRoute, z } from '@hono/zod-openapi';
import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import {
  aliasChangesOf,
  auditFor,
  championVersion,
  findModel,
  findRun,
  findVersion,
  listVersions,
} from '../../db/registry';
import { auditEvents, models, triggers } from '../../db/schema';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError, notFound } from '../errors';
import {
  AliasChange,
  AuditEvent,
  ModelRecord,
  ModelView,
  orNull,
  RunRecord,
  TriggerRecord,
  VersionRecord,
} from '../responses';
import { createRouter } from '../router';
import {
  errors,
  jsonBody,
  jsonResponse,
  ModelParam,
  RegisterModelBody,
  readErrors,
  UpdateModelBody,
  VersionParams,
  writeErrors,
} from '../schemas';

const VersionList = z.object({
  champion: VersionRecord.shape.version.nullable(),
  versions: z.array(VersionRecord),
});

const VersionWithLineage = VersionRecord.extend({
  lineage: z.object({
    run: orNull(RunRecord),
    triggers: z.array(TriggerRecord),
    audit: z.array(AuditEvent),
    aliasChanges: z.array(AliasChange),
  }),
}).openapi('ModelVersionWithLineage');

export async function requireModel(deps: Pick<ApiDeps, 'db'>, name: string) {
  const model = await findModel(deps.db, name);
  if (!model) throw notFound(`model ${name}`, { model: name });
  return model;
}

/** Models, their policies and versions, with lineage. */
export function modelRoutes(deps: ApiDeps) {
  const { db } = deps;
  const describe = async (name: string) => {
    const model = await requireModel(deps, name);
    // Who froze (or unfroze) it and when: the latest such audit event.
    const [change] = await db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.model, name), inArray(auditEvents.kind, ['model_frozen', 'model_unfrozen'])))
      .orderBy(desc(auditEvents.at), desc(auditEvents.id))
      .limit(1);
    const freeze = {
      frozen: model.frozen,
      reason: model.frozenReason,
      by: change?.actor ?? null,
      at: change?.at ?? null,
    };
    return { ...model, champion: await championVersion(db, name), freeze };
  };

  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/models',
        summary: 'Register a model with its data source and policy',
        request: jsonBody(RegisterModelBody),
        responses: {
          201: jsonResponse('The registered model', ModelView),
          ...errors(400, 401, 403, 413, 415, 503),
          409: { ...errors(409)[409], description: 'A model of that name exists (`model_exists`)' },
        },
      }),
      async (c) => {
        const body = c.req.valid('json');
        const [created] = await db
          .insert(models)
          .values({
            name: body.name,
            dataUri: body.dataUri,
            policy: body.policy,
            createdBy: callerOf(c).name,
          })
          .onConflictDoNothing()
          .returning();
        if (!created) {
          throw new ApiError(
            409,
            'model_exists',
            `model ${body.name} is already registered; use PUT to change it`,
          );
        }
        await db.insert(auditEvents).values({
          model: body.name,
          kind: 'model_registered',
          actor: callerOf(c).name,
          reason: null,
          details: { dataUri: body.dataUri },
        });
        return c.json(await describe(body.name), 201);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/models',
        summary: 'List models',
        responses: {
          200: jsonResponse('Models', z.object({ models: z.array(ModelRecord) })),
          ...errors(401, 503),
        },
      }),
      async (c) => c.json({ models: await db.select().from(models).orderBy(asc(models.name)) }, 200),
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/models/{model}',
        summary: 'A model, its policy and its champion version',
        request: { params: ModelParam },
        responses: { 200: jsonResponse('The model', ModelView), ...readErrors },
      }),
      async (c) => c.json(await describe(c.req.valid('param').model), 200),
    )
    .openapi(
      createRoute({
        method: 'put',
        path: '/models/{model}',
        summary: "Change a model's policy or data source (runs in progress keep the policy they began with)",
        request: { params: ModelParam, ...jsonBody(UpdateModelBody) },
        responses: { 200: jsonResponse('The updated model', ModelView), ...writeErrors },
      }),
      async (c) => {
        const { model } = c.req.valid('param');
        const body = c.req.valid('json');
        await requireModel(deps, model);
        if (!body.policy && !body.dataUri) {
          throw new ApiError(400, 'invalid_request', 'nothing to change: give policy and/or dataUri');
        }
        await db
          .update(models)
          .set({
            ...(body.policy ? { policy: body.policy } : {}),
            ...(body.dataUri ? { dataUri: body.dataUri } : {}),
            updatedAt: new Date(),
          })
          .where(eq(models.name, model));
        await db.insert(auditEvents).values({
          model,
          kind: 'model_updated',
          actor: callerOf(c).name,
          reason: null,
          details: { policy: body.policy !== undefined, dataUri: body.dataUri ?? null },
        });
        return c.json(await describe(model), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/models/{model}/versions',
        summary: "A model's versions, newest first",
        request: { params: ModelParam },
        responses: { 200: jsonResponse('Versions', VersionList), ...readErrors },
      }),
      async (c) => {
        const { model } = c.req.valid('param');
        await requireModel(deps, model);
        return c.json(
          { champion: await championVersion(db, model), versions: await listVersions(db, model) },
          200,
        );
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/models/{model}/versions/{version}',
        summary: 'A version with its lineage: the run and its causes, data, code, parameters, decisions',
        request: { params: VersionParams },
        responses: { 200: jsonResponse('The version and its lineage', VersionWithLineage), ...readErrors },
      }),
      async (c) => {
        const { model, version } = c.req.valid('param');
        await requireModel(deps, model);
        const row = await findVersion(db, model, version);
        if (!row) throw notFound(`version ${version} of model ${model}`);
        const run = await findRun(db, model, row.runId);
        const runTriggers = await db.select().from(triggers).where(eq(triggers.runId, row.runId));
        const aliasChanges = await aliasChangesOf(db, model, version);
        return c.json(
          {
            ...row,
            lineage: {
              run,
              triggers: runTriggers,
              audit: await auditFor(db, model, row.runId),
              aliasChanges,
            },
          },
          200,
        );
      },
    );
}

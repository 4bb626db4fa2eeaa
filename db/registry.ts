import { and, asc, desc, eq, or, sql } from 'drizzle-orm';
import { type Policy, parsePolicy } from '../domain/policy';
import { sha256 } from '../storage/atomic-file';
import type { Db } from './client';
import { aliases, aliasHistory, auditEvents, models, modelVersions, runs } from './schema';

/** Reads of the registry shared by activities and the API. */

export const CHAMPION = 'champion';

export async function findModel(db: Db, name: string) {
  const [row] = await db.select().from(models).where(eq(models.name, name));
  return row ?? null;
}

export async function modelPolicy(db: Db, name: string): Promise<Policy | null> {
  const row = await findModel(db, name);
  return row ? parsePolicy(row.policy) : null;
}

export async function championVersion(db: Db, model: string): Promise<number | null> {
  const [row] = await db
    .select({ version: aliases.version })
    .from(aliases)
    .where(and(eq(aliases.model, model), eq(aliases.alias, CHAMPION)));
  return row?.version ?? null;
}

export async function findVersion(db: Db, model: string, version: number) {
  const [row] = await db
    .select()
    .from(modelVersions)
    .where(and(eq(modelVersions.model, model), eq(modelVersions.version, version)));
  return row ?? null;
}

export async function findRun(db: Db, model: string, runId: string) {
  const [row] = await db
    .select()
    .from(runs)
    .where(and(eq(runs.model, model), eq(runs.id, runId)));
  return row ?? null;
}

export async function listRuns(db: Db, model: string, limit = 50) {
  return db.select().from(runs).where(eq(runs.model, model)).orderBy(desc(runs.startedAt)).limit(limit);
}

export async function listVersions(db: Db, model: string) {
  return db
    .select()
    .from(modelVersions)
    .where(eq(modelVersions.model, model))
    .orderBy(desc(modelVersions.version));
}

export async function auditFor(db: Db, model: string, runId?: string) {
  const where = runId
    ? and(eq(auditEvents.model, model), eq(auditEvents.runId, runId))
    : eq(auditEvents.model, model);
  return db.select().from(auditEvents).where(where).orderBy(auditEvents.at, auditEvents.id);
}

/** Merges one stage's report (validation, training progress, evaluation, canary…) into a run's record. */
export async function mergeRunReport(db: Db, runId: string, name: string, report: unknown): Promise<void> {
  await db
    .update(runs)
    .set({ reports: sql`${runs.reports} || ${JSON.stringify({ [name]: report })}::jsonb` })
    .where(eq(runs.id, runId));
}

/** JSON with object keys sorted at every level, so equal reports hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/**
 * The SHA-256 of a version's evaluation report: what an approver saw, so an
 * audit can tell which report a decision was made on.
 */
export function evaluationReportHash(evaluation: unknown): string | null {
  return evaluation === null || evaluation === undefined ? null : sha256(canonicalJson(evaluation));
}

/** Every move of the champion alias to or from `version`, oldest first. */
export async function aliasChangesOf(db: Db, model: string, version: number) {
  return db
    .select()
    .from(aliasHistory)
    .where(
      and(
        eq(aliasHistory.model, model),
        or(eq(aliasHistory.toVersion, version), eq(aliasHistory.fromVersion, version)),
      ),
    )
    .orderBy(asc(aliasHistory.at));
}

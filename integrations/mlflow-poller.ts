import type { Logger } from 'pino';
import type { Db } from '../db/client';
import { models } from '../db/schema';
import type { TriggerRequest, TriggerSubmission } from '../triggers/submit-trigger';
import { runEvery } from '../workers/periodic';
import type { MlflowRegistry } from './mlflow';

/**
 * Where MLflow's webhook is not configured, a control worker asks MLflow
 * every CTLOOP_MLFLOW_POLL_SECONDS for versions someone else's training job
 * registered under the name of a ctloop model. Per model it submits the
 * newest version registered after the newest one ctloop knows (tagged
 * `ctloop.version`), as a `registry` trigger deduplicated per version; older
 * ones are skipped, so connecting ctloop to a registry with a long history
 * does not replay it. Versions ctloop refused to import carry
 * `ctloop.import_refused` and are not offered again.
 */
export async function pollMlflowOnce(deps: {
  db: Db;
  mlflow: MlflowRegistry;
  submitTrigger: (model: string, request: TriggerRequest) => Promise<TriggerSubmission>;
}): Promise<{ model: string; mlflowVersion: string; fate: string }[]> {
  const submitted: { model: string; mlflowVersion: string; fate: string }[] = [];
  for (const { name } of await deps.db.select({ name: models.name }).from(models)) {
    const versions = await deps.mlflow.listVersions(name);
    const known = versions.filter((v) => 'ctloop.version' in v.tags || 'ctloop.import_refused' in v.tags);
    const newestKnown = Math.max(0, ...known.map((v) => Number(v.version)));
    const candidate = versions
      .filter((v) => Number(v.version) > newestKnown && !('ctloop.run_id' in v.tags))
      .at(-1);
    if (!candidate) continue;
    const answer = await deps.submitTrigger(name, {
      reason: 'registry',
      details: { mlflowVersion: candidate.version },
      dedupKey: `mlflow:${name}:${candidate.version}`,
      requestedBy: 'mlflow',
    });
    submitted.push({ model: name, mlflowVersion: candidate.version, fate: String(answer.body.fate) });
  }
  return submitted;
}

/** Polls every `everyMs` until stopped; a failed poll (MLflow or the database away) is logged and retried. */
export function startMlflowPoller(
  deps: Parameters<typeof pollMlflowOnce>[0],
  log: Logger,
  everyMs: number,
): { stop(): Promise<void> } {
  return runEvery(
    everyMs,
    async () => {
      const submitted = await pollMlflowOnce(deps);
      if (submitted.length > 0)
        log.info({ submitted }, 'MLflow versions registered elsewhere submitted for evaluation');
    },
    (err) =>
      log.warn({ reason: (err as Error).message }, 'MLflow poll failed; retrying at the next interval'),
  );
}

import type { Logger } from 'pino';
import type { IdentityRegistry } from '../auth/identities';
import type { Db } from '../db/client';
import type { MlflowRegistry } from '../integrations/mlflow';
import type { Gateway } from '../serving/gateway';
import type { V2Server } from '../serving/v2-server';
import type { ArtifactStore } from '../storage/artifact-store';
import type { TrainerRegistry } from '../trainers/trainer';
import type { TriggerRequest, TriggerSubmission } from '../triggers/submit-trigger';
import type { RunResult } from '../workflows/messages';
import type { WebhookConfig } from './notifications';
import type { WatchClock } from './watch-clock';

/** What activities need from the outside world; workers build the real ones, tests too. */
export interface ActivityDeps {
  readonly db: Db;
  /** The external V2 model server (CTLOOP_V2_URL), for models served by one: infra-validation loads candidates there. */
  readonly v2Server?: V2Server;
  /** An MLflow Model Registry (CTLOOP_MLFLOW_URI) that every candidate is registered in and whose alias `champion` follows ctloop's. */
  readonly mlflow?: MlflowRegistry;
  readonly artifacts: ArtifactStore;
  readonly trainers: TrainerRegistry;
  readonly gateway: Gateway;
  /** Recorded with every model version (lineage): the code that produced it. */
  readonly codeVersion: string;
  /** What trainers on this worker may use: 'cuda' only on GPU workers that checked their GPU. */
  readonly device: 'cpu' | 'cuda';
  readonly log: Logger;
  /** API identities: decisions sent as signals name one. */
  readonly identities: IdentityRegistry;
  readonly webhooks: WebhookConfig;
  /** Hands a trigger to a model's workflow; present on workers that have a Temporal client (control). */
  readonly submitTrigger?: (model: string, request: TriggerRequest) => Promise<TriggerSubmission>;
  /** Waits for a run workflow's result (throws as the Temporal client does); present where submitTrigger is. */
  readonly runWorkflowResult?: (workflowId: string) => Promise<RunResult>;
  /** What rollout watches read and wait on: the worker's clock unless a test gives its server's. */
  readonly watchClock?: WatchClock;
}

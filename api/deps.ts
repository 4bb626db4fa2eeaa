import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { IdentityRegistry } from '../auth/identities';
import type { Config } from '../config/env';
import type { Db } from '../db/client';
import type { CtMetrics } from '../observability/metrics';
import type { Gateway } from '../serving/gateway';
import type { SessionKeeper } from './pages/session';

export interface ApiDeps {
  readonly db: Db;
  readonly temporal: Client;
  readonly gateway: Gateway;
  readonly taskQueues: Config['taskQueues'];
  readonly log: Logger;
  readonly identities: IdentityRegistry;
  /**
   * The process's metrics, whose `observePrediction` the gateway was built
   * with; without it the app makes its own (no gateway series then).
   */
  readonly metrics?: CtMetrics;
  /** Sessions of the approval pages; without it the app makes one with a random secret (CTLOOP_SESSION_SECRET). */
  readonly sessions?: SessionKeeper;
  /** The shared secret of MLflow's webhook (CTLOOP_MLFLOW_WEBHOOK_SECRET); without it the webhook route is off. */
  readonly mlflowWebhookSecret?: string;
}

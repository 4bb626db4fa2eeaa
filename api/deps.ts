import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { IdentityRegistry } from '../auth/identities';
import type { Config } from '../config/env';
import type { Db } from '../db/client';
import type { Gateway } from '../serving/gateway';

export interface ApiDeps {
  readonly db: Db;
  readonly temporal: Client;
  readonly gateway: Gateway;
  readonly taskQueues: Config['taskQueues'];
  readonly log: Logger;
  readonly identities: IdentityRegistry;
}

import path from 'node:path';
import { z } from 'zod';

/**
 * Every setting ctloop reads from the environment, in one place, so the
 * README, docker-compose.yml and the processes agree (a test checks the
 * compose file against `configVariables`).
 */
export const configVariables = {
  TEMPORAL_ADDRESS: 'Temporal frontend host:port (default localhost:7233)',
  TEMPORAL_NAMESPACE: 'Temporal namespace (default "default")',
  TEMPORAL_UI_PORT: 'Port of the dev server Web UI started by `npm run dev` (default 8233)',
  TEMPORAL_CLI_PATH: 'Path of a Temporal CLI binary to use instead of the project-local one',
  DATABASE_URL: 'Postgres connection string; unset means embedded PGlite under CTLOOP_DATA_DIR',
  CTLOOP_DATA_DIR: 'Folder for PGlite, the Temporal dev server state and artifacts (default .data)',
  CTLOOP_ARTIFACTS_DIR:
    'Shared artifact store for checkpoints and models (default $CTLOOP_DATA_DIR/artifacts)',
  CTLOOP_TASK_QUEUE: 'Control task queue (default ct)',
  CTLOOP_TRAIN_TASK_QUEUE: 'Training task queue (default ct-train)',
  CTLOOP_GPU_TRAIN_TASK_QUEUE:
    'Training task queue for models whose policy needs a GPU (default ct-train-gpu)',
  CTLOOP_TRAINERS: 'JSON object naming extra process trainers: {"name": ["program", "arg", ...]}',
  CTLOOP_TRAINER_PYTHON:
    'Python interpreter for the example process trainers (default: the project-local venv)',
  CTLOOP_TOKENS_FILE:
    'JSON file of API tokens: [{"name", "role", "groups"?, "sha256"}] (hashes only; `npm run token` makes one)',
  CTLOOP_TOKENS: 'The same JSON array inline (both may be set)',
  CTLOOP_WEBHOOKS:
    'Comma-separated URLs that receive approval notifications (requested, reminder, escalated, decided)',
  CTLOOP_WEBHOOK_SECRET:
    'When set, each webhook body is signed: header x-ctloop-signature: sha256=HMAC(body)',
  CTLOOP_V2_URL:
    'Base URL of an Open Inference Protocol (KServe V2) model server, e.g. MLServer, for models whose policy says serving.backend "v2"',
  CTLOOP_V2_REPOSITORY:
    'The model repository folder that server loads from; ctloop writes each version there (needed with CTLOOP_V2_URL)',
  CTLOOP_MLFLOW_URI:
    'An MLflow tracking server with its Model Registry (mlflow server …): every candidate is registered there and alias champion follows ctloop',
  CTLOOP_MLFLOW_WEBHOOK_SECRET:
    "The secret of MLflow's model_version.created webhook pointed at POST /integrations/mlflow/webhook (unset: the route is off)",
  CTLOOP_MLFLOW_POLL_SECONDS:
    'How often control workers ask MLflow for versions registered elsewhere (default 60 with CTLOOP_MLFLOW_URI and no webhook secret, else 0 = off)',
  CTLOOP_SESSION_SECRET:
    "At least 32 characters signing the approval pages' session cookies; give every API replica the same one (default: random per process, so sessions end on restart)",
  CTLOOP_WORKFLOW_CACHE:
    "Workflows a control worker keeps in memory between their tasks (Temporal's maxCachedWorkflows; default 250); others are replayed from history when they next have work",
  CTLOOP_WORKER_METRICS:
    "host:port on which each worker process serves the Temporal SDK's Prometheus metrics at /metrics (workflow-task schedule-to-start and execution latency, task slots, sticky cache); unset: none",
  PORT: 'HTTP port of the API and serving gateway (default 3000)',
  LOG_LEVEL: 'pino log level (default info)',
} as const;

export type ConfigVariable = keyof typeof configVariables;

/**
 * Workflows a control worker keeps in memory. Each model has a long-lived
 * workflow that is idle almost all the time, so the cache needs to hold the
 * busy ones (runs in progress, models receiving triggers), not all of them:
 * an evicted one is replayed from its (bounded) history on its next task.
 * bench/scale-models.ts measures the worker's memory against this setting.
 */
export const DEFAULT_WORKFLOW_CACHE = 250;

const envSchema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  DATABASE_URL: z.string().min(1).optional(),
  CTLOOP_DATA_DIR: z.string().min(1).default('.data'),
  CTLOOP_ARTIFACTS_DIR: z.string().min(1).optional(),
  CTLOOP_TASK_QUEUE: z.string().min(1).default('ct'),
  CTLOOP_TRAIN_TASK_QUEUE: z.string().min(1).default('ct-train'),
  CTLOOP_GPU_TRAIN_TASK_QUEUE: z.string().min(1).default('ct-train-gpu'),
  CTLOOP_TRAINERS: z
    .string()
    .default('{}')
    .transform((raw, ctx) => {
      try {
        return z.record(z.string().min(1), z.array(z.string().min(1)).min(1)).parse(JSON.parse(raw));
      } catch {
        ctx.addIssue({
          code: 'custom',
          message: 'must be a JSON object of trainer name → [program, ...args]',
        });
        return z.NEVER;
      }
    }),
  CTLOOP_TRAINER_PYTHON: z.string().min(1).optional(),
  CTLOOP_TOKENS_FILE: z.string().min(1).optional(),
  CTLOOP_TOKENS: z.string().min(1).optional(),
  CTLOOP_WEBHOOKS: z
    .string()
    .default('')
    .transform((raw, ctx) => {
      const urls = raw
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean);
      for (const url of urls) {
        if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
          ctx.addIssue({ code: 'custom', message: `not an http(s) URL: ${url}` });
        }
      }
      return urls;
    }),
  CTLOOP_WEBHOOK_SECRET: z.string().min(1).optional(),
  CTLOOP_V2_URL: z.string().url().optional(),
  CTLOOP_V2_REPOSITORY: z.string().min(1).optional(),
  CTLOOP_MLFLOW_URI: z.string().url().optional(),
  CTLOOP_MLFLOW_POLL_SECONDS: z.coerce.number().int().min(0).max(86_400).optional(),
  CTLOOP_MLFLOW_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  CTLOOP_SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  CTLOOP_WORKFLOW_CACHE: z.coerce.number().int().min(2).max(100_000).default(DEFAULT_WORKFLOW_CACHE),
  CTLOOP_WORKER_METRICS: z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'must be host:port, e.g. 0.0.0.0:9464')
    .refine((a) => {
      const port = Number(a.slice(a.lastIndexOf(':') + 1));
      return port >= 1 && port <= 65_535;
    }, 'port must be 1-65535')
    .optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Config {
  /** maxCachedWorkflows of a control worker. */
  workflowCache: number;
  /** Where a worker process serves the Temporal SDK's Prometheus metrics; undefined: nowhere. */
  workerMetricsAddress: string | undefined;
  temporal: { address: string; namespace: string; uiPort: number };
  databaseUrl: string | undefined;
  dataDir: string;
  artifactsDir: string;
  taskQueues: { control: string; train: string; gpuTrain: string };
  /** Extra process trainers: name → command. */
  trainers: Record<string, string[]>;
  trainerPython: string | undefined;
  /** Where API tokens come from (see auth/identities.ts). */
  auth: { tokensFile?: string; tokens?: string };
  webhooks: { urls: string[]; secret?: string };
  /** An external V2 model server and its repository folder (both or neither). */
  v2: { url: string; repository: string } | undefined;
  /** An MLflow Model Registry to mirror versions and the champion alias into. */
  mlflowUri: string | undefined;
  mlflowWebhookSecret: string | undefined;
  /** 0: no polling. */
  mlflowPollSeconds: number;
  /** Signs the approval pages' session cookies; undefined: a random one per process. */
  sessionSecret: string | undefined;
  port: number;
  logLevel: string;
}

/** Reads the configuration; a bad value stops the process with a message naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`ctloop: invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  if (Boolean(e.CTLOOP_V2_URL) !== Boolean(e.CTLOOP_V2_REPOSITORY)) {
    throw new Error('ctloop: invalid configuration: CTLOOP_V2_URL and CTLOOP_V2_REPOSITORY go together');
  }
  const dataDir = path.resolve(e.CTLOOP_DATA_DIR);
  return {
    temporal: { address: e.TEMPORAL_ADDRESS, namespace: e.TEMPORAL_NAMESPACE, uiPort: e.TEMPORAL_UI_PORT },
    databaseUrl: e.DATABASE_URL,
    dataDir,
    artifactsDir: path.resolve(e.CTLOOP_ARTIFACTS_DIR ?? path.join(dataDir, 'artifacts')),
    taskQueues: {
      control: e.CTLOOP_TASK_QUEUE,
      train: e.CTLOOP_TRAIN_TASK_QUEUE,
      gpuTrain: e.CTLOOP_GPU_TRAIN_TASK_QUEUE,
    },
    trainers: e.CTLOOP_TRAINERS,
    trainerPython: e.CTLOOP_TRAINER_PYTHON,
    auth: { tokensFile: e.CTLOOP_TOKENS_FILE, tokens: e.CTLOOP_TOKENS },
    webhooks: { urls: e.CTLOOP_WEBHOOKS, secret: e.CTLOOP_WEBHOOK_SECRET },
    v2: e.CTLOOP_V2_URL
      ? { url: e.CTLOOP_V2_URL, repository: path.resolve(e.CTLOOP_V2_REPOSITORY!) }
      : undefined,
    mlflowUri: e.CTLOOP_MLFLOW_URI,
    mlflowWebhookSecret: e.CTLOOP_MLFLOW_WEBHOOK_SECRET,
    mlflowPollSeconds:
      e.CTLOOP_MLFLOW_POLL_SECONDS ?? (e.CTLOOP_MLFLOW_URI && !e.CTLOOP_MLFLOW_WEBHOOK_SECRET ? 60 : 0),
    sessionSecret: e.CTLOOP_SESSION_SECRET,
    workflowCache: e.CTLOOP_WORKFLOW_CACHE,
    workerMetricsAddress: e.CTLOOP_WORKER_METRICS,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
  };
}

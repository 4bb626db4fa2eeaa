import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { workflowsPath } from '../workers/runtime';
import { startTemporalDevServer } from './helpers/temporal-server';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    /** A Postgres server URL, or '' when the suite runs on embedded PGlite (CTLOOP_TEST_DB=pglite). */
    postgresUrl: string;
    /** The Python that runs the example process trainers (scripts/ensure-python-trainer). */
    trainerPython: string;
  }
}

/**
 * Starts the real services once for the whole run: a Temporal dev server
 * (in memory) and, unless CTLOOP_TEST_DB=pglite, a Postgres server; and
 * bundles the workflow code once so each test file's worker starts fast.
 */
export default async function setup(project: TestProject) {
  const server = await startTemporalDevServer({});
  const bundle = await bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  const bundlePath = path.join(mkdtempSync(path.join(tmpdir(), 'ctloop-bundle-')), 'workflows.js');
  writeFileSync(bundlePath, bundle.code);
  const postgresUrl =
    process.env.CTLOOP_TEST_DB === 'pglite'
      ? ''
      : (process.env.DATABASE_URL ?? (await import('./helpers/postgres')).ensurePostgres());
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('postgresUrl', postgresUrl);
  project.provide(
    'trainerPython',
    execFileSync('bash', [path.join(import.meta.dirname, '..', 'scripts', 'ensure-python-trainer')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim(),
  );
  return async () => {
    await server.stop();
  };
}

const quietLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn(message: string, meta?: unknown) {
    console.warn(message, meta ?? '');
  },
  error(message: string, meta?: unknown) {
    console.error(message, meta ?? '');
  },
};

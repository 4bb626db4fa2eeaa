import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { workflowsPath } from '../../workers/runtime';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The time-skipping test server binary (scripts/ensure-temporal-test-server). */
    timeSkippingServerPath: string;
  }
}

const scripts = path.join(import.meta.dirname, '..', '..', 'scripts');
const runScript = (name: string) =>
  execFileSync('bash', [path.join(scripts, name)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 15 * 60_000,
  }).trim();

/**
 * The services of the time-skipping tests: the test server's binary (each file
 * starts its own server from it, since skipped time is global to a server), the
 * workflow bundle, a Postgres server (unless CTLOOP_TEST_DB=pglite) and the
 * trainers' Python.
 */
export default async function setup(project: TestProject) {
  project.provide('timeSkippingServerPath', runScript('ensure-temporal-test-server'));
  const bundle = await bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  const bundlePath = path.join(mkdtempSync(path.join(tmpdir(), 'ctloop-bundle-')), 'workflows.js');
  writeFileSync(bundlePath, bundle.code);
  project.provide('workflowBundlePath', bundlePath);
  project.provide(
    'postgresUrl',
    process.env.CTLOOP_TEST_DB === 'pglite'
      ? ''
      : (process.env.DATABASE_URL ?? (await import('../helpers/postgres')).ensurePostgres()),
  );
  project.provide('trainerPython', runScript('ensure-python-trainer'));
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

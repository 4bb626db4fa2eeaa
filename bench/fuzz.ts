import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer } from '../scripts/temporal-dev-server';
import { runSchemathesis, seedFuzzData } from '../test/helpers/fuzz';
import { ensurePostgres } from '../test/helpers/postgres';
import { startStackWith } from '../test/helpers/stack';
import { workflowsPath } from '../workers/runtime';

/**
 * `npm run bench -- fuzz`: the longer schemathesis run behind the CI one
 * (test/e2e/openapi-fuzz.test.ts): every phase, stateful included, as each
 * role, with more examples per operation, against the API on Postgres and a
 * Temporal dev server with its workers. Prints the counts; `bench/all.ts`
 * writes them to bench/results/fuzz.json. CTLOOP_FUZZ_EXAMPLES sets the
 * examples per operation (default 10).
 */
const maxExamples = Number(process.env.CTLOOP_FUZZ_EXAMPLES ?? 10);

const temporal = await startDevServer({ headless: true });
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
const bundlePath = path.join(mkdtempSync(path.join(os.tmpdir(), 'ctloop-fuzz-')), 'workflows.js');
writeFileSync(bundlePath, (await bundleWorkflowCode({ workflowsPath, logger: quiet })).code);
const stack = await startStackWith({
  temporalAddress: temporal.address,
  postgresUrl: process.env.DATABASE_URL ?? ensurePostgres(),
  workflowBundlePath: bundlePath,
  trainerPython: process.env.CTLOOP_TRAINER_PYTHON ?? 'python3',
});
try {
  await seedFuzzData(stack);
  const reportDir = path.join('.data', 'fuzz', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(reportDir, { recursive: true });
  const counts = await runSchemathesis(stack, { maxExamples, reportDir, requestTimeout: 10 });
  console.log(
    JSON.stringify({
      what: 'schemathesis against /openapi.json, every phase (examples, coverage, fuzzing, stateful), one run per role',
      schemathesis: '4.32.5',
      maxExamplesPerOperation: maxExamples,
      roles: ['admin', 'approver', 'operator', 'trigger', 'viewer'],
      reportDir,
      ...counts,
    }),
  );
} finally {
  await stack.close();
  await temporal.stop();
}

import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTemporalCli } from '../../scripts/temporal-dev-server';
import type { Stack } from './stack';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'histories');

/** CTLOOP_RECORD_HISTORIES=1 refreshes the histories that test/e2e/replay.test.ts replays. */
export const recordingHistories = process.env.CTLOOP_RECORD_HISTORIES === '1';

/**
 * Writes one execution's history (the latest, or `runId`'s) to
 * test/fixtures/histories/<name>.json in the CLI's JSON, the format the
 * SDK's replayer reads.
 */
export async function recordHistory(
  stack: Stack,
  name: string,
  workflowId: string,
  runId?: string,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const args = ['workflow', 'show', '--workflow-id', workflowId, '--address', stack.temporalAddress];
  if (runId) args.push('--run-id', runId);
  const json = execFileSync(await ensureTemporalCli(), [...args, '--output', 'json']);
  await writeFile(path.join(dir, `${name}.json`), json);
}

/** Records a run's history once its workflow has completed (its registry outcome lands a moment earlier). */
export async function recordRunHistory(stack: Stack, name: string, workflowId: string): Promise<void> {
  if (!recordingHistories) return;
  await stack.client.workflow
    .getHandle(workflowId)
    .result()
    .catch(() => undefined);
  await recordHistory(stack, name, workflowId);
}

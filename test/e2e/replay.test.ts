import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { installSdkLogging } from '../../workers/runtime';

/**
 * Workflow code must replay every history it has produced. These histories
 * were recorded from real runs (`npm run record:histories`: every outcome,
 * an escalated approval, a long watched canary and bake, the model workflow
 * across continue-as-new); a change that would break a live run fails here,
 * and must be made behind `patched()` instead (docs/run-workflow.md).
 */
const dir = path.join(import.meta.dirname, '..', 'fixtures', 'histories');
const histories = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('recorded workflow histories replay with the current workflow code', () => {
  it('has histories to replay', () => {
    expect(histories.length).toBeGreaterThanOrEqual(2);
  });

  it.each(histories)('%s', async (file) => {
    installSdkLogging({ logLevel: 'warn' });
    // The SDK reads the CLI's JSON export itself.
    const history: unknown = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    await expect(
      Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, file),
    ).resolves.toBeUndefined();
  });
});

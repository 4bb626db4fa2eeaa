import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { installSdkRuntime } from '../../workers/runtime';
import { withDeliveriesOnEarlierClocks } from '../helpers/histories';

/**
 * Workflow code must replay every history it has produced. These histories
 * were recorded from real runs (`npm run record:histories`: every outcome,
 * an escalated approval, a long watched canary and bake, the model workflow
 * across continue-as-new); a change that would break a live run fails here,
 * and must be made behind `patched()` instead (docs/run-workflow.md).
 */
const dir = path.join(import.meta.dirname, '..', 'fixtures', 'histories');
const histories = readdirSync(dir).filter((f) => f.endsWith('.json'));
const read = (file: string) => JSON.parse(readFileSync(path.join(dir, file), 'utf8'));

describe('recorded workflow histories replay with the current workflow code', () => {
  it('has histories to replay', () => {
    expect(histories.length).toBeGreaterThanOrEqual(2);
  });

  it.each(histories)('%s', async (file) => {
    installSdkRuntime({ logLevel: 'warn' });
    // The SDK reads the CLI's JSON export itself.
    const history: unknown = read(file);
    await expect(
      Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, file),
    ).resolves.toBeUndefined();
  });
});

/**
 * A worker that took a run over after a worker loss got an earlier task's
 * clock for the fired deadline timer, while a replay of the same history got
 * the later one; the run decided differently each time and no worker could
 * replay it (workflows/workflow-clock.ts). Here every timer, activity and
 * child a run waited on is delivered on the clock of the task before: the
 * workflows must take the decisions the histories record, whichever clock
 * they see. The approval deadline, the model's cooldown and the bake's window
 * each failed this before they decided against `WorkflowClock`.
 */
describe('recorded histories replay when what a run waited on arrives on an earlier clock', () => {
  const moved = histories.filter((f) => withDeliveriesOnEarlierClocks(read(f)).moved > 0);
  const firedTimers = (file: string) =>
    (read(file).events as { eventType: string }[]).filter((e) => e.eventType === 'EVENT_TYPE_TIMER_FIRED')
      .length;

  it('covers a fired approval deadline, a fired cooldown and a bake window on one timer', () => {
    for (const file of [
      'run-approval-expired.json',
      'model-follow-up-after-cooldown.json',
      'run-promoted-now.json',
    ]) {
      expect(moved).toContain(file);
      expect(firedTimers(file)).toBeGreaterThan(0);
    }
  });

  it.each(moved)('%s', async (file) => {
    installSdkRuntime({ logLevel: 'warn' });
    const { history } = withDeliveriesOnEarlierClocks(read(file));
    await expect(
      Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, file),
    ).resolves.toBeUndefined();
  });
});

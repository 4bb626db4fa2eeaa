/**
 * Validation and evaluation tasks run on a thread of their own when the data
 * is large and on the caller's thread when it is small (a thread's start-up
 * costs more than the work). Where a task runs must not change its answer,
 * its errors, or how it is cancelled.
 */
import { describe, expect, it } from 'vitest';
import { INLINE_TASK_CHARS, runDatasetTask } from '../compute/dataset-threads';
import { type DatasetPhase, DatasetProblem, type DatasetTask } from '../compute/dataset-work';
import type { LogRegModel } from '../domain/logistic-regression';
import { parsePolicy } from '../domain/policy';
import { generateDataset } from '../domain/synthetic-data';
import { fastPolicy } from '../scripts/lib/scenario';

const policy = parsePolicy(fastPolicy());
const text = generateDataset({ rows: 3000, seed: 11 });
const model = (weights: number[], bias: number): LogRegModel => ({
  kind: 'logreg',
  features: ['x1', 'x2', 'x3', 'x4'],
  weights,
  bias,
  means: [0, 0, 0, 0],
  stds: [1, 1, 1, 1],
});
const validate: DatasetTask = { kind: 'validate', text, schema: policy.schema, rules: policy.validation };
const evaluate: DatasetTask = {
  kind: 'evaluate',
  text,
  schema: policy.schema,
  holdoutFraction: 0.2,
  policy: policy.evaluation,
  candidate: model([1, -0.5, 0.8, 0.2], 0.1),
  champion: model([0.2, 0.1, 0, 0], 0),
};

/** The task's answer and the phases it reported, inline (the default for this size) or on a thread. */
async function run(task: DatasetTask, where: 'inline' | 'thread') {
  const phases: DatasetPhase[] = [];
  const result = await runDatasetTask(task, {
    onPhase: (p) => phases.push(p),
    ...(where === 'thread' ? { inlineMaxChars: 0 } : {}),
  });
  return { result, phases };
}

describe('dataset tasks, inline or on a thread', () => {
  it('a small file runs inline; both places give the same validation and evaluation, phase by phase', async () => {
    expect(text.length).toBeLessThan(INLINE_TASK_CHARS);
    for (const task of [validate, evaluate]) {
      const [inline, threaded] = await Promise.all([run(task, 'inline'), run(task, 'thread')]);
      expect(inline).toEqual(threaded);
      expect(inline.phases.length).toBeGreaterThan(1);
    }
    const { result } = await run(evaluate, 'inline');
    expect(result).toMatchObject({ holdoutRows: 600, gate: { decision: 'pass' } });
  }, 60_000);

  it('does a small file at once, on the calling thread; a large one waits for its thread', async () => {
    const phases = { inline: [] as DatasetPhase[], thread: [] as DatasetPhase[] };
    const inline = runDatasetTask(validate, { onPhase: (p) => phases.inline.push(p) });
    const threaded = runDatasetTask(validate, { onPhase: (p) => phases.thread.push(p), inlineMaxChars: 0 });
    // Before either promise is awaited: the inline task is done, the thread has not started yet.
    expect(phases.inline).toEqual(['hashing', 'parsing', 'checking']);
    expect(phases.thread).toEqual([]);
    expect(await inline).toEqual(await threaded);
    expect(phases.thread).toEqual(phases.inline);
  }, 60_000);

  it('throws a DatasetProblem as one, and refuses to start once cancelled, in both places', async () => {
    // The policy slices by a column the file does not have: retrying cannot help.
    const mismatched = {
      ...evaluate,
      policy: { ...policy.evaluation, slices: { column: 'region', margin: 0.05, minRows: 30 } },
    };
    for (const where of ['inline', 'thread'] as const) {
      await expect(run(mismatched, where)).rejects.toBeInstanceOf(DatasetProblem);
      const cancelled = AbortSignal.abort(new Error('run cancelled'));
      await expect(
        runDatasetTask(validate, { signal: cancelled, ...(where === 'thread' ? { inlineMaxChars: 0 } : {}) }),
      ).rejects.toThrow('run cancelled');
    }
  }, 60_000);
});

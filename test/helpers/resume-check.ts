import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateDataset } from '../../domain/synthetic-data';
import { createProcessTrainer } from '../../trainers/process-trainer';
import type { TrainJob } from '../../trainers/trainer';

const pythonDir = path.join(import.meta.dirname, '..', '..', 'trainers', 'python');

/**
 * Trains once without interruption and once with a SIGTERM after the first
 * checkpoint followed by a resume from the checkpoint the trainer wrote on
 * its way out; returns both artifacts and what the interruption looked like.
 */
export async function trainTwiceWithPreemption(opts: {
  python: string;
  script: string;
  params: Record<string, unknown>;
  checkpointEvery: number;
  device?: 'cpu' | 'cuda';
}) {
  const trainer = createProcessTrainer({
    name: opts.script,
    command: [opts.python, path.join(pythonDir, opts.script)],
    cwd: pythonDir,
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'ctloop-resume-'));
  const dataPath = path.join(dir, 'train.csv');
  writeFileSync(dataPath, generateDataset({ rows: 800, seed: 9 }));
  let n = 0;
  const job = (
    resumeFrom: TrainJob['resumeFrom'],
    onCheckpoint: TrainJob['onCheckpoint'],
    params: Record<string, unknown>,
    signal: AbortSignal,
  ): TrainJob => {
    const run = path.join(dir, `attempt-${n++}`);
    mkdirSync(path.join(run, 'ckpt'), { recursive: true });
    mkdirSync(path.join(run, 'out'), { recursive: true });
    return {
      dataPath,
      features: ['x1', 'x2', 'x3', 'x4'],
      label: 'label',
      params,
      checkpointEvery: opts.checkpointEvery,
      checkpointDir: path.join(run, 'ckpt'),
      outputDir: path.join(run, 'out'),
      resumeFrom,
      device: opts.device ?? 'cpu',
      onProgress: () => {},
      onCheckpoint,
      signal,
    };
  };

  const straight = await trainer.train(job(null, async () => {}, opts.params, new AbortController().signal));

  // Interrupted: the test plays the worker's cancellation (SIGTERM) after the first checkpoint.
  const abort = new AbortController();
  const checkpoints: { path: string; step: number }[] = [];
  let stoppedBy: unknown = null;
  try {
    await trainer.train(
      job(
        null,
        async (c) => {
          if ('path' in c) checkpoints.push(c);
          if (checkpoints.length === 1) abort.abort();
        },
        { ...opts.params, stepDelayMs: 20 },
        abort.signal,
      ),
    );
  } catch (err) {
    stoppedBy = err;
  }
  const last = checkpoints.at(-1)!;
  const resumed = await trainer.train(job(last, async () => {}, opts.params, new AbortController().signal));
  return {
    straight: JSON.parse(readFileSync(straight.artifactPath, 'utf8')),
    resumed: JSON.parse(readFileSync(resumed.artifactPath, 'utf8')),
    checkpoints,
    stoppedBy,
    resumedSteps: resumed.steps,
  };
}

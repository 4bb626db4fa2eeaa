import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainTwiceWithPreemption } from '../helpers/resume-check';

/**
 * Run by `npm run test:torch` (not in CI: PyTorch is a large download). Set
 * CTLOOP_TEST_DEVICE=cuda on a GPU machine to run the same check on the GPU.
 */
describe('the PyTorch example trainer through the process protocol', () => {
  it('resumed after SIGTERM, ends with exactly the weights of an uninterrupted run', async () => {
    const python = execFileSync(
      'bash',
      [path.join(import.meta.dirname, '..', '..', 'scripts', 'ensure-python-trainer'), '--torch'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    ).trim();
    const result = await trainTwiceWithPreemption({
      python,
      script: 'torch_trainer.py',
      params: { epochs: 8, batchSize: 32, learningRate: 0.01, hidden: [16, 8], seed: 5 },
      checkpointEvery: 40,
      device: process.env.CTLOOP_TEST_DEVICE === 'cuda' ? 'cuda' : 'cpu',
    });
    // Stopped by SIGTERM right after the checkpoint at step 40, with a checkpoint of where it stopped.
    expect(result.checkpoints[0]!.step).toBe(40);
    expect(result.checkpoints.length).toBeLessThanOrEqual(2);
    expect(result.checkpoints.at(-1)!.step).toBeLessThan(80); // before the next regular checkpoint
    expect(String(result.stoppedBy)).toMatch(/abort/i);
    expect(result.resumed.kind).toBe('mlp');
    expect(result.resumedSteps).toBe(8 * 25); // 8 epochs of 800 rows in batches of 32
    expect(result.resumed).toEqual(result.straight);
  }, 300_000);
});

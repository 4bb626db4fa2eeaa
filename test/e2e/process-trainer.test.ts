import { describe, expect, inject, it } from 'vitest';
import { trainTwiceWithPreemption } from '../helpers/resume-check';

describe('the numpy example trainer through the process protocol', () => {
  it('checkpoints on SIGTERM, and a resumed run ends with the same weights as an uninterrupted one', async () => {
    const result = await trainTwiceWithPreemption({
      python: inject('trainerPython'),
      script: 'numpy_trainer.py',
      params: { epochs: 300, learningRate: 0.5, l2: 0.001, seed: 11 },
      checkpointEvery: 50,
    });
    // SIGTERM came right after the checkpoint at 50: the trainer stopped at its next step, with a
    // checkpoint of where it stopped (the one at 50 itself when the signal beat the step's end).
    expect(result.checkpoints[0]!.step).toBe(50);
    expect(result.checkpoints.length).toBeLessThanOrEqual(2);
    expect(result.checkpoints.at(-1)!.step).toBeLessThan(100); // before the next regular checkpoint
    expect(String(result.stoppedBy)).toMatch(/abort/i);
    expect(result.resumedSteps).toBe(300);
    expect(result.resumed).toEqual(result.straight);
  });
});

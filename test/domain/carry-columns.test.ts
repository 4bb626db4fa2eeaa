import { describe, expect, it } from 'vitest';
import { differences, Interned, runningSums } from '../../domain/carry-columns';

describe('carry columns', () => {
  it('writes times as differences and reads them back exactly, out of order included', () => {
    const times = [1_796_649_828_155, 1_796_649_828_246, 1_796_649_828_200, 1_796_649_828_200, 0];
    const written = differences(times);
    expect(written).toEqual([1_796_649_828_155, 91, -46, 0, -1_796_649_828_200]);
    expect(runningSums(JSON.parse(JSON.stringify(written)))).toEqual(times);
    expect(differences([])).toEqual([]);
  });

  it('gives each distinct value one index, in the order first seen', () => {
    const runs = new Interned<string>();
    expect(['r2', 'r1', 'r2', 'r2', 'r1', 'r3'].map((r) => runs.indexOf(r, r))).toEqual([0, 1, 0, 0, 1, 2]);
    expect(runs.values).toEqual(['r2', 'r1', 'r3']);
    const answers = new Interned<{ fate: string }>();
    const first = { fate: 'joined' };
    expect(answers.indexOf('joined', first)).toBe(0);
    expect(answers.indexOf('joined', { fate: 'joined' })).toBe(0);
    expect(answers.values[0]).toBe(first);
  });
});

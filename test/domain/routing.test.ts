import { describe, expect, it } from 'vitest';
import { chooseVersion, fnv1a32, type Route } from '../../domain/routing';

const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
const route = (candidateWeight: number): Route => ({ champion: 1, candidate: 2, candidateWeight });

describe('fnv1a32', () => {
  // Reference vectors from the FNV test suite; non-ASCII from Python over UTF-8 bytes:
  //   h=0x811c9dc5; for b in s.encode(): h=((h^b)*0x01000193)&0xffffffff
  it.each([
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
    ['é', 0x1e9de8c1],
    ['user-€😀', 0x193b973a],
  ])('fnv1a32(%j) = %i', (s, expected) => {
    expect(fnv1a32(s)).toBe(expected);
  });
});

describe('chooseVersion', () => {
  it.each<[string, Route, ReturnType<typeof chooseVersion>]>([
    ['neither version', { champion: null, candidate: null, candidateWeight: 50 }, null],
    [
      'champion only',
      { champion: 3, candidate: null, candidateWeight: 50 },
      { version: 3, role: 'champion' },
    ],
    [
      'candidate only (first deployment)',
      { champion: null, candidate: 4, candidateWeight: 0 },
      { version: 4, role: 'candidate' },
    ],
    ['weight 0', { champion: 3, candidate: 4, candidateWeight: 0 }, { version: 3, role: 'champion' }],
    ['weight 100', { champion: 3, candidate: 4, candidateWeight: 100 }, { version: 4, role: 'candidate' }],
  ])('%s', (_name, r, expected) => {
    expect(chooseVersion(r, 'any-key')).toEqual(expected);
  });

  it('is sticky: the same key gets the same version every time', () => {
    for (const key of keys.slice(0, 500)) {
      const first = chooseVersion(route(37), key);
      for (let i = 0; i < 3; i++) expect(chooseVersion(route(37), key)).toEqual(first);
    }
  });

  it('is monotone: raising the weight only moves champion keys to the candidate', () => {
    const weights = [0, 0.5, 1, 5, 10, 25, 50, 75, 99, 100];
    for (const key of keys) {
      const roles = weights.map((w) => chooseVersion(route(w), key)?.role);
      const firstCandidate = roles.indexOf('candidate');
      // Once a key reaches the candidate it stays there at every higher weight.
      if (firstCandidate >= 0) expect(roles.slice(firstCandidate).every((r) => r === 'candidate')).toBe(true);
    }
  });

  it.each([1, 5, 10, 25, 50, 90])('sends about %i %% of 10 000 keys to the candidate', (weight) => {
    const share =
      keys.filter((k) => chooseVersion(route(weight), k)?.role === 'candidate').length / keys.length;
    expect(Math.abs(share * 100 - weight)).toBeLessThanOrEqual(2);
  });

  it.each([-1, 100.5, Number.NaN])('rejects weight %f', (w) => {
    expect(() => chooseVersion(route(w), 'k')).toThrow('chooseVersion: candidateWeight must be in [0, 100]');
  });
});

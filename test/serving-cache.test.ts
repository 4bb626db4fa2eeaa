import { describe, expect, it } from 'vitest';
import { createTtlCache } from '../serving/ttl-cache';

describe('the serving cache', () => {
  const counting = (opts: { ttlMs: number; maxEntries?: number; fail?: (k: string) => boolean }) => {
    let clock = 0;
    const loads: string[] = [];
    const cache = createTtlCache<string, string>({
      load: async (k) => {
        loads.push(k);
        if (opts.fail?.(k)) throw new Error(`no ${k}`);
        return `${k}@${clock}`;
      },
      ttlMs: opts.ttlMs,
      maxEntries: opts.maxEntries,
      now: () => clock,
    });
    return { cache, loads, tick: (ms: number) => (clock += ms) };
  };

  it('loads a key once for concurrent callers and reuses it until the TTL passes', async () => {
    const { cache, loads, tick } = counting({ ttlMs: 1000 });
    const [a, b] = await Promise.all([cache.get('route/m'), cache.get('route/m')]);
    expect(a).toBe('route/m@0');
    expect(b).toBe(a);
    tick(999);
    expect(await cache.get('route/m')).toBe('route/m@0');
    tick(1);
    expect(await cache.get('route/m')).toBe('route/m@1000');
    expect(loads).toEqual(['route/m', 'route/m']);
  });

  it('forgets a failed load at once and a deleted key on the next get', async () => {
    let failing = true;
    const { cache, loads } = counting({ ttlMs: 1000, fail: () => failing });
    await expect(cache.get('v')).rejects.toThrow('no v');
    failing = false;
    expect(await cache.get('v')).toBe('v@0');
    cache.delete('v');
    await cache.get('v');
    cache.deleteWhere((k) => k.startsWith('v'));
    await cache.get('v');
    expect(loads).toEqual(['v', 'v', 'v', 'v']);
  });

  it('keeps at most maxEntries keys, dropping the oldest', async () => {
    const { cache, loads } = counting({ ttlMs: 60_000, maxEntries: 3 });
    for (const k of ['a', 'b', 'c', 'd']) await cache.get(k);
    expect(cache.size).toBe(3);
    await cache.get('d');
    await cache.get('a');
    expect(loads).toEqual(['a', 'b', 'c', 'd', 'a']);
  });
});

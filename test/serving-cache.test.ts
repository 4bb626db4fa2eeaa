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
    tick(700);
    expect(await cache.get('route/m')).toBe('route/m@0');
    // Not read in the last quarter of its life (no refresh ahead): it expires and is loaded again.
    tick(300);
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

  describe('refresh ahead', () => {
    /** A cache whose loads answer only when the test says so. */
    const manual = () => {
      let clock = 0;
      const pending: { key: string; at: number; settle(fail?: boolean): Promise<void> }[] = [];
      const cache = createTtlCache<string, string>({
        load: (k) =>
          new Promise<string>((resolve, reject) => {
            const at = clock;
            pending.push({
              key: k,
              at,
              async settle(fail = false) {
                if (fail) reject(new Error(`no ${k}`));
                else resolve(`${k}@${at}`);
                await new Promise((r) => setTimeout(r, 0));
              },
            });
          }),
        ttlMs: 1000,
        now: () => clock,
      });
      const settled = async <T>(p: Promise<T>) => {
        let done = false;
        void p.then(
          () => (done = true),
          () => (done = true),
        );
        await new Promise((r) => setTimeout(r, 0));
        return done;
      };
      return { cache, pending, settled, tick: (ms: number) => (clock += ms) };
    };

    it('reloads a key read in the last quarter of its life in the background, and its callers do not wait', async () => {
      const { cache, pending, settled, tick } = manual();
      const first = cache.get('route/m');
      await pending[0]!.settle();
      expect(await first).toBe('route/m@0');
      tick(749);
      expect(await cache.get('route/m')).toBe('route/m@0');
      expect(pending).toHaveLength(1);
      tick(1);
      // The refresh starts, and the caller has the cached value at once, before the refresh answers.
      const during = cache.get('route/m');
      expect(await settled(during)).toBe(true);
      expect(await during).toBe('route/m@0');
      expect(pending).toHaveLength(2);
      // One refresh at a time.
      await cache.get('route/m');
      expect(pending).toHaveLength(2);
      await pending[1]!.settle();
      // Past the first value's TTL the refreshed one is served, and nobody waited for it.
      tick(250);
      const after = cache.get('route/m');
      expect(await settled(after)).toBe(true);
      expect(await after).toBe('route/m@750');
      expect(pending).toHaveLength(2);
    });

    it('never serves a value older than the TTL: a refresh not answered by then is not waited for', async () => {
      const { cache, pending, settled, tick } = manual();
      const first = cache.get('route/m');
      await pending[0]!.settle();
      await first;
      tick(800);
      await cache.get('route/m');
      expect(pending).toHaveLength(2);
      tick(200);
      // The TTL has passed and the refresh is still out: the caller loads as on a miss and waits.
      const expired = cache.get('route/m');
      expect(pending).toHaveLength(3);
      expect(await settled(expired)).toBe(false);
      await pending[2]!.settle();
      expect(await expired).toBe('route/m@1000');
      // The late refresh does not replace the newer value.
      await pending[1]!.settle();
      expect(await cache.get('route/m')).toBe('route/m@1000');
    });

    it('keeps the cached value when a refresh fails, and tries again on the next read', async () => {
      const { cache, pending, tick } = manual();
      const first = cache.get('v');
      await pending[0]!.settle();
      await first;
      tick(900);
      expect(await cache.get('v')).toBe('v@0');
      await pending[1]!.settle(true);
      expect(await cache.get('v')).toBe('v@0');
      expect(pending).toHaveLength(3);
      await pending[2]!.settle();
      tick(100);
      expect(await cache.get('v')).toBe('v@900');
    });

    it('does not bring back a key deleted while it was being refreshed', async () => {
      const { cache, pending, tick } = manual();
      const first = cache.get('v');
      await pending[0]!.settle();
      await first;
      tick(800);
      await cache.get('v');
      cache.delete('v');
      await pending[1]!.settle();
      const reloaded = cache.get('v');
      expect(pending).toHaveLength(3);
      await pending[2]!.settle();
      expect(await reloaded).toBe('v@800');
    });
  });
});

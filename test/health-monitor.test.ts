import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHealthMonitor, type HealthCheck } from '../api/health';

describe('the /healthz monitor', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A dependency the test can break, slow down, and count the checks of. */
  const dependency = () => {
    const dep = { calls: 0, down: false, hangs: false };
    const check: HealthCheck = {
      run: () => {
        dep.calls++;
        if (dep.hangs) return new Promise(() => {});
        return dep.down ? Promise.reject(new Error('connection refused')) : Promise.resolve();
      },
      describe: (err) => (err as Error).message,
    };
    return { dep, check };
  };
  const opts = { refreshMs: 1000, deadlineMs: 800, keepWarmMs: 60_000 };

  it('answers probes from the latest state, running the checks once per refresh however many probes ask', async () => {
    const { dep, check } = dependency();
    const monitor = createHealthMonitor({ database: check }, opts);
    expect(await monitor.current()).toMatchObject({ status: 'ok', checks: { database: 'ok' } });
    expect(dep.calls).toBe(1);
    for (let i = 0; i < 500; i++) await monitor.current();
    expect(dep.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(5_000);
    // One check per second in the background, not one per probe.
    expect(dep.calls).toBe(6);
  });

  it('reports an outage and a recovery within one refresh, naming the dependency that failed', async () => {
    const { dep, check } = dependency();
    const other = dependency();
    const monitor = createHealthMonitor({ database: check, temporal: other.check }, opts);
    expect((await monitor.current()).status).toBe('ok');
    dep.down = true;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await monitor.current()).toMatchObject({
      status: 'degraded',
      checks: { database: 'error: connection refused', temporal: 'ok' },
    });
    dep.down = false;
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await monitor.current()).status).toBe('ok');
  });

  it('gives a check that hangs its deadline, and keeps answering at once meanwhile', async () => {
    const { dep, check } = dependency();
    const monitor = createHealthMonitor({ database: check }, opts);
    await monitor.current();
    dep.hangs = true;
    // The refresh starts at 1 s and its deadline ends at 1.8 s; until then the last state stands.
    await vi.advanceTimersByTimeAsync(1_500);
    let answer: unknown = 'still waiting';
    void monitor.current().then((state) => {
      answer = state;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(answer).toMatchObject({ status: 'ok' });
    await vi.advanceTimersByTimeAsync(300);
    expect(await monitor.current()).toMatchObject({
      status: 'degraded',
      checks: { database: 'error: no answer within 800 ms' },
    });
  });

  it('stops checking when nobody asks, and checks afresh for the next probe', async () => {
    const { dep, check } = dependency();
    const monitor = createHealthMonitor({ database: check }, { ...opts, keepWarmMs: 10_000 });
    await monitor.current();
    await vi.advanceTimersByTimeAsync(30_000);
    const whileWatched = dep.calls;
    expect(whileWatched).toBeGreaterThanOrEqual(10);
    expect(whileWatched).toBeLessThanOrEqual(12);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(dep.calls).toBe(whileWatched);
    // The stored state is stale by now: the next probe waits for a real check rather than trusting it.
    dep.down = true;
    expect((await monitor.current()).status).toBe('degraded');
    expect(dep.calls).toBe(whileWatched + 1);
  });
});

import { describe, expect, it } from 'vitest';
import { addCause, MAX_RUN_CAUSES, MAX_RUN_CAUSES_BYTES } from '../../domain/follow-up-causes';
import { jsonBytes } from '../../domain/json-bytes';
import { MAX_CARRIED_DEDUP_BYTES, pruneDedup } from '../../domain/trigger-governance';

interface Cause {
  readonly triggerId: string;
  readonly details: Record<string, unknown>;
}

const cause = (i: number, details: Record<string, unknown> = {}): Cause => ({ triggerId: `t${i}`, details });

/** Adds `n` causes one at a time, as a storm of triggers joining a follow-up would. */
function storm(n: number, detailsOf: (i: number) => Record<string, unknown> = () => ({})) {
  let run: { causes: Cause[]; omittedCauses?: number } = { causes: [cause(0, detailsOf(0))] };
  for (let i = 1; i < n; i++) run = addCause(run, cause(i, detailsOf(i)));
  return run;
}

describe('addCause', () => {
  it('keeps every cause while within bounds', () => {
    const run = storm(50);
    expect(run.causes.map((c) => c.triggerId)).toEqual(Array.from({ length: 50 }, (_, i) => `t${i}`));
    expect(run.omittedCauses ?? 0).toBe(0);
  });

  it('keeps at most 200 causes: the first and the newest, counting the rest', () => {
    const run = storm(1_000);
    expect(run.causes).toHaveLength(MAX_RUN_CAUSES);
    expect(run.omittedCauses).toBe(1_000 - MAX_RUN_CAUSES);
    expect(run.causes[0]!.triggerId).toBe('t0');
    expect(run.causes.at(-1)!.triggerId).toBe('t999');
    // The newest 199 after the first, in order.
    expect(run.causes[1]!.triggerId).toBe(`t${1_000 - MAX_RUN_CAUSES + 1}`);
  });

  it('keeps the causes within 128 KiB of JSON when each carries large details', () => {
    // 16 KiB of details each (the API's limit), multi-byte characters counted as UTF-8.
    const run = storm(300, (i) => ({ note: `${'é'.repeat(8_000)}${i}` }));
    const bytes = new TextEncoder().encode(JSON.stringify(run.causes)).length;
    expect(bytes).toBeLessThanOrEqual(MAX_RUN_CAUSES_BYTES);
    expect(run.causes.length + run.omittedCauses!).toBe(300);
    expect(run.causes.length).toBeGreaterThan(1);
    expect(run.causes.at(-1)!.triggerId).toBe('t299');
  });

  it('never drops the newest cause naming data, a window or an MLflow version', () => {
    const run = storm(600, (i) =>
      i === 10 ? { dataUri: 'file:///data/june.csv' } : i === 20 ? { mlflowVersion: '7' } : {},
    );
    expect(run.causes).toHaveLength(MAX_RUN_CAUSES);
    const ids = run.causes.map((c) => c.triggerId);
    expect(ids).toContain('t10');
    expect(ids).toContain('t20');
    // A newer trigger naming data replaces the older one among those kept on purpose.
    const newer = addCause(run, cause(600, { dataUri: 'file:///data/july.csv' }));
    expect(newer.causes.map((c) => c.triggerId)).toContain('t600');
    let again = newer;
    for (let i = 601; i < 1_000; i++) again = addCause(again, cause(i));
    const kept = again.causes.map((c) => c.triggerId);
    expect(kept).not.toContain('t10');
    expect(kept).toContain('t600');
    expect(kept).toContain('t20');
  });
});

describe('pruneDedup', () => {
  it('carries at most 512 KiB of dedup keys, the newest first', () => {
    const NOW = 1_000_000;
    // 5,000 keys of 200 multi-byte characters: about 3.5 MB uncapped.
    const dedup = Object.fromEntries(
      Array.from({ length: 5_000 }, (_, i) => [
        `${String(i).padStart(5, '0')}${'ü'.repeat(195)}`,
        { triggerId: `t${i}`, runId: 'r', expiresAt: NOW + 1_000 + i },
      ]),
    );
    expect(jsonBytes(dedup)).toBeGreaterThan(2_000_000);
    const carried = pruneDedup(dedup, NOW);
    const bytes = new TextEncoder().encode(JSON.stringify(carried)).length;
    expect(bytes).toBeLessThanOrEqual(MAX_CARRIED_DEDUP_BYTES);
    const kept = Object.values(carried).map((e) => e.triggerId);
    expect(kept.length).toBeGreaterThan(100);
    expect(kept).toContain('t4999');
    expect(kept).not.toContain('t0');
  });
});

import { describe, expect, it } from 'vitest';
import { addCause, MAX_RUN_CAUSES, MAX_RUN_CAUSES_BYTES } from '../../domain/follow-up-causes';
import { DedupIndex, MAX_CARRIED_DEDUP_BYTES } from '../../domain/trigger-governance';
import { triggerPolicySchema } from '../../domain/trigger-policy';

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

describe('the dedup keys carried across continue-as-new', () => {
  it('take at most 512 KiB, the newest kept', () => {
    const NOW = 1_000_000;
    // 5,000 keys of 200 multi-byte characters: about 3.5 MB uncapped.
    const index = new DedupIndex();
    const policy = triggerPolicySchema.parse({ dedupTtlSeconds: 60 });
    for (let i = 0; i < 5_000; i++) {
      const dedupKey = `${String(i).padStart(5, '0')}${'ü'.repeat(195)}`;
      index.remember({ dedupKey, triggerId: `t${i}`, runId: 'r' }, policy, NOW + i);
    }
    const carry = index.toCarry(NOW);
    const bytes = new TextEncoder().encode(JSON.stringify(carry)).length;
    expect(bytes).toBeLessThanOrEqual(MAX_CARRIED_DEDUP_BYTES);
    expect(bytes).toBeGreaterThan(MAX_CARRIED_DEDUP_BYTES * 0.9);
    expect(carry.keys.length).toBeGreaterThan(100);
    expect(carry.keys).toContain(`04999${'ü'.repeat(195)}`);
    expect(carry.keys).not.toContain(`00000${'ü'.repeat(195)}`);
  });

  it('count the escapes and surrogates of a key at their worst', () => {
    const index = new DedupIndex();
    const policy = triggerPolicySchema.parse({ dedupTtlSeconds: 60 });
    const nasty = `\u0001"\\\ud800😀${'\u001f'.repeat(100)}`;
    for (let i = 0; i < 2_000; i++) {
      index.remember({ dedupKey: `${i}${nasty}`, triggerId: `t${i}`, runId: `r${i % 7}` }, policy, i);
    }
    for (const maxBytes of [1_000, 50_000, 400_000]) {
      const carry = index.toCarry(0, 5_000, maxBytes);
      expect(new TextEncoder().encode(JSON.stringify(carry)).length).toBeLessThanOrEqual(maxBytes);
    }
  });
});

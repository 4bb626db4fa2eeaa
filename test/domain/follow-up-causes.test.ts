import { describe, expect, it } from 'vitest';
import { FollowUpCauses, MAX_RUN_CAUSES, MAX_RUN_CAUSES_BYTES } from '../../domain/follow-up-causes';
import { jsonBytes } from '../../domain/json-bytes';
import { DedupIndex, MAX_CARRIED_DEDUP_BYTES } from '../../domain/trigger-governance';
import { triggerPolicySchema } from '../../domain/trigger-policy';

interface Cause {
  readonly triggerId: string;
  readonly details: Record<string, unknown>;
}

const cause = (i: number, details: Record<string, unknown> = {}): Cause => ({ triggerId: `t${i}`, details });

/** Adds `n` causes one at a time, as a storm of triggers joining a follow-up would. */
function storm(n: number, detailsOf: (i: number) => Record<string, unknown> = () => ({})) {
  const causes = new FollowUpCauses<Cause>([cause(0, detailsOf(0))]);
  for (let i = 1; i < n; i++) causes.add(cause(i, detailsOf(i)));
  return causes;
}

/** The same storm as a run sees it across continue-as-new: carried as JSON every `every` causes. */
function stormCarried(n: number, every: number, detailsOf: (i: number) => Record<string, unknown>) {
  let causes = new FollowUpCauses<Cause>([cause(0, detailsOf(0))]);
  for (let i = 1; i < n; i++) {
    causes.add(cause(i, detailsOf(i)));
    if (i % every === 0) causes = new FollowUpCauses(JSON.parse(JSON.stringify(causes.list)), causes.omitted);
  }
  return causes;
}

describe('FollowUpCauses', () => {
  it('keeps every cause while within bounds', () => {
    const run = storm(50);
    expect(run.list.map((c) => c.triggerId)).toEqual(Array.from({ length: 50 }, (_, i) => `t${i}`));
    expect(run.omitted).toBe(0);
  });

  it('keeps at most 200 causes: the first and the newest, counting the rest', () => {
    const run = storm(1_000);
    expect(run.list).toHaveLength(MAX_RUN_CAUSES);
    expect(run.omitted).toBe(1_000 - MAX_RUN_CAUSES);
    expect(run.list[0]!.triggerId).toBe('t0');
    expect(run.list.at(-1)!.triggerId).toBe('t999');
    // The newest 199 after the first, in order.
    expect(run.list[1]!.triggerId).toBe(`t${1_000 - MAX_RUN_CAUSES + 1}`);
  });

  it('keeps the causes within 128 KiB of JSON when each carries large details', () => {
    // 16 KiB of details each (the API's limit), multi-byte characters counted as UTF-8.
    const run = storm(300, (i) => ({ note: `${'é'.repeat(8_000)}${i}` }));
    const bytes = new TextEncoder().encode(JSON.stringify(run.list)).length;
    expect(bytes).toBeLessThanOrEqual(MAX_RUN_CAUSES_BYTES);
    expect(run.list.length + run.omitted).toBe(300);
    expect(run.list.length).toBeGreaterThan(1);
    expect(run.list.at(-1)!.triggerId).toBe('t299');
  });

  it('keeps the same causes when carried across continue-as-new mid-storm as without', () => {
    // Sizes from 100 B to 12 KiB, some naming data: both limits and the kept causes come into play.
    const detailsOf = (i: number) => ({
      note: 'x'.repeat((i * 7_919) % 12_000),
      ...(i % 97 === 0 ? { dataUri: `file:///data/${i}.csv` } : {}),
    });
    const straight = storm(2_000, detailsOf);
    const carried = stormCarried(2_000, 333, detailsOf);
    expect(carried.list.map((c) => c.triggerId)).toEqual(straight.list.map((c) => c.triggerId));
    expect(carried.omitted).toBe(straight.omitted);
    expect(straight.list.reduce((a, c) => a + jsonBytes(c), 2)).toBeLessThanOrEqual(MAX_RUN_CAUSES_BYTES);
  });

  it('never drops the newest cause naming data, a window or an MLflow version', () => {
    const run = storm(600, (i) =>
      i === 10 ? { dataUri: 'file:///data/june.csv' } : i === 20 ? { mlflowVersion: '7' } : {},
    );
    expect(run.list).toHaveLength(MAX_RUN_CAUSES);
    const ids = run.list.map((c) => c.triggerId);
    expect(ids).toContain('t10');
    expect(ids).toContain('t20');
    // A newer trigger naming data replaces the older one among those kept on purpose.
    run.add(cause(600, { dataUri: 'file:///data/july.csv' }));
    expect(run.list.map((c) => c.triggerId)).toContain('t600');
    for (let i = 601; i < 1_000; i++) run.add(cause(i));
    const kept = run.list.map((c) => c.triggerId);
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

import { describe, expect, it } from 'vitest';
import { LEDGER_MAX_ENTRIES, LEDGER_RETENTION_MS, TriggerLedger } from '../../domain/trigger-ledger';

const HOUR = 3_600_000;

describe('trigger ledger: a trigger delivered again gets its first answer', () => {
  it('answers a known trigger as before and knows nothing of others', () => {
    const ledger = new TriggerLedger<{ fate: string }>();
    ledger.record('t1', { fate: 'started' }, 0);
    ledger.record('t2', { fate: 'queued' }, 1_000);
    expect(ledger.answerFor('t1')).toEqual({ fate: 'started' });
    expect(ledger.answerFor('t2')).toEqual({ fate: 'queued' });
    expect(ledger.answerFor('t3')).toBeUndefined();
  });

  it('forgets answers older than the retention, and the oldest beyond the cap', () => {
    const ledger = new TriggerLedger<string>();
    ledger.record('old', 'started', 0);
    ledger.record('recent', 'joined', LEDGER_RETENTION_MS);
    ledger.record('now', 'held', LEDGER_RETENTION_MS + 1);
    expect(ledger.answerFor('old')).toBeUndefined();
    expect(ledger.answerFor('recent')).toBe('joined');

    const full = new TriggerLedger<number>();
    for (let i = 0; i < LEDGER_MAX_ENTRIES + 10; i++) full.record(`t${i}`, i, i);
    expect(full.size).toBe(LEDGER_MAX_ENTRIES);
    expect(full.answerFor('t9')).toBeUndefined();
    expect(full.answerFor('t10')).toBe(10);
  });

  it('carries its answers across continue-as-new, each distinct answer once', () => {
    const ledger = new TriggerLedger<{ fate: string; runId: string }>();
    ledger.record('a', { fate: 'started', runId: 'r1' }, 1 * HOUR);
    ledger.record('b', { fate: 'joined', runId: 'r1' }, 2 * HOUR);
    ledger.record('c', { fate: 'joined', runId: 'r1' }, 2 * HOUR + 5);
    const carry = ledger.toCarry(3 * HOUR);
    expect(carry.answers).toEqual([
      { fate: 'started', runId: 'r1' },
      { fate: 'joined', runId: 'r1' },
    ]);
    const next = new TriggerLedger<{ fate: string; runId: string }>(JSON.parse(JSON.stringify(carry)));
    expect(next.answerFor('a')).toEqual({ fate: 'started', runId: 'r1' });
    expect(next.answerFor('b')).toEqual({ fate: 'joined', runId: 'r1' });
    expect(next.answerFor('c')).toEqual({ fate: 'joined', runId: 'r1' });
    expect(next.size).toBe(3);
    // The decision times came along: pruning drops from the oldest decision, 'a' first.
    next.prune(1 * HOUR + LEDGER_RETENTION_MS + 1);
    expect(next.answerFor('a')).toBeUndefined();
    expect(next.answerFor('b')).toEqual({ fate: 'joined', runId: 'r1' });
    next.prune(2 * HOUR + LEDGER_RETENTION_MS + 1);
    expect(next.answerFor('b')).toBeUndefined();
    expect(next.answerFor('c')).toBeDefined();
  });

  it('does not carry the answers whose fates the deliverer stored, but still gives them in this execution', () => {
    const ledger = new TriggerLedger<string>();
    ledger.record('stored', 'joined', 1);
    ledger.record('unsaid', 'joined', 2);
    ledger.record('lost', 'queued', 3);
    ledger.markRecorded(['stored', 'never-seen']);
    expect(ledger.answerFor('stored')).toBe('joined');
    const carry = ledger.toCarry(4);
    expect(carry.triggerIds).toEqual(['unsaid', 'lost']);
    const next = new TriggerLedger<string>(carry);
    expect(next.answerFor('stored')).toBeUndefined();
    expect(next.answerFor('unsaid')).toBe('joined');
    expect(next.answerFor('lost')).toBe('queued');
  });
});

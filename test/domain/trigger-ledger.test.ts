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

  it('carries its answers across continue-as-new, whatever order the record comes in', () => {
    const ledger = new TriggerLedger<string>();
    ledger.record('a', 'started', 1 * HOUR);
    ledger.record('b', 'queued', 2 * HOUR);
    const record = ledger.toRecord(3 * HOUR);
    const reversed = Object.fromEntries(Object.entries(record).reverse());
    const next = new TriggerLedger<string>(JSON.parse(JSON.stringify(reversed)));
    expect(next.answerFor('a')).toBe('started');
    expect(next.answerFor('b')).toBe('queued');
    // Pruning drops from the oldest decision: 'a' goes first.
    next.prune(1 * HOUR + LEDGER_RETENTION_MS + 1);
    expect(next.answerFor('a')).toBeUndefined();
    expect(next.answerFor('b')).toBe('queued');
  });
});

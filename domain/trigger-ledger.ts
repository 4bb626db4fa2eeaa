/**
 * The fates a model's workflow gave its recent triggers, by trigger id, so
 * that a trigger delivered twice gets the same answer twice and never a
 * second run. A trigger is delivered again when the process that stored it
 * died before it recorded the fate (the reconciler in
 * triggers/reconcile-triggers.ts re-sends it), or when two processes both
 * deliver it. Kept for `LEDGER_RETENTION_MS` and at most `LEDGER_MAX_ENTRIES` triggers, in
 * the order they were decided, and carried across continue-as-new; the
 * reconciler re-sends only triggers younger than `REDELIVERY_WINDOW_MS`, well
 * inside the retention.
 */
export interface LedgerEntry<A> {
  readonly answer: A;
  /** Epoch milliseconds at which the fate was decided. */
  readonly at: number;
}

export const LEDGER_RETENTION_MS = 6 * 3_600_000;
export const LEDGER_MAX_ENTRIES = 2_000;
/** A trigger still without a fate after this long is given up on (`failed_to_deliver`), not re-sent. */
export const REDELIVERY_WINDOW_MS = 3_600_000;

export class TriggerLedger<A> {
  private readonly entries = new Map<string, LedgerEntry<A>>();

  /** Starts from a carried record, oldest decision first. */
  constructor(carried: Readonly<Record<string, LedgerEntry<A>>> = {}) {
    const sorted = Object.entries(carried).sort(([, a], [, b]) => a.at - b.at);
    for (const [id, entry] of sorted) this.entries.set(id, entry);
  }

  /** The answer given to `triggerId`, if it was decided within the retention. */
  answerFor(triggerId: string): A | undefined {
    return this.entries.get(triggerId)?.answer;
  }

  record(triggerId: string, answer: A, now: number): void {
    this.entries.set(triggerId, { answer, at: now });
    this.prune(now);
  }

  /** Drops decisions older than the retention from the front, and the oldest beyond the cap. */
  prune(now: number): void {
    for (const [id, entry] of this.entries) {
      if (now - entry.at <= LEDGER_RETENTION_MS && this.entries.size <= LEDGER_MAX_ENTRIES) break;
      this.entries.delete(id);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** The retained decisions, to carry across continue-as-new. */
  toRecord(now: number): Record<string, LedgerEntry<A>> {
    this.prune(now);
    return Object.fromEntries(this.entries);
  }
}

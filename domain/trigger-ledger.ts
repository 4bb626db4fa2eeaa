import { differences, Interned, runningSums } from './carry-columns';

/**
 * The fates a model's workflow gave its recent triggers, by trigger id, so
 * that a trigger delivered twice gets the same answer twice and never a
 * second run. A trigger is delivered again when the process that stored it
 * died before it recorded the fate (the reconciler in
 * triggers/reconcile-triggers.ts re-sends it), or when two processes both
 * deliver it. Kept for `LEDGER_RETENTION_MS` and at most `LEDGER_MAX_ENTRIES` triggers, in
 * the order they were decided; the reconciler re-sends only triggers younger
 * than `REDELIVERY_WINDOW_MS`, well inside the retention. Carried across
 * continue-as-new are the answers whose fates the deliverer has not said it
 * stored: those are the ones that can be sent again. (A reconciler that read a
 * row as `received` just before its slow first delivery stored the fate could
 * still re-send it after a hand-over; it is then decided afresh, and a dedup
 * key, if it has one, still answers it as before.)
 */
export interface LedgerEntry<A> {
  readonly answer: A;
  /** Epoch milliseconds at which the fate was decided. */
  readonly at: number;
  /** The process that delivered the trigger has stored its fate (`markRecorded`). */
  recorded?: boolean;
}

export const LEDGER_RETENTION_MS = 6 * 3_600_000;
export const LEDGER_MAX_ENTRIES = 2_000;
/** A trigger still without a fate after this long is given up on (`failed_to_deliver`), not re-sent. */
export const REDELIVERY_WINDOW_MS = 3_600_000;

export class TriggerLedger<A> {
  private readonly entries = new Map<string, LedgerEntry<A>>();

  /** Starts from what an earlier execution carried (`toCarry`). */
  constructor(carried?: LedgerCarry<A>) {
    if (!carried) return;
    const at = runningSums(carried.at);
    carried.triggerIds.forEach((id, i) => {
      this.entries.set(id, { answer: carried.answers[carried.answerOf[i]!]!, at: at[i]! });
    });
  }

  /** The answer given to `triggerId`, if it was decided within the retention. */
  answerFor(triggerId: string): A | undefined {
    return this.entries.get(triggerId)?.answer;
  }

  /**
   * The deliverer says it stored these triggers' fates: nobody needs to send
   * them again, so they are not carried to the next execution (under a storm
   * the ledger is thousands of random ids, which a hand-over would carry and
   * every trigger arriving meanwhile would wait for). They stay answerable in
   * this execution. Ids the ledger does not know are ignored.
   */
  markRecorded(triggerIds: readonly string[]): void {
    for (const id of triggerIds) {
      const entry = this.entries.get(id);
      if (entry) entry.recorded = true;
    }
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

  /**
   * The retained decisions whose fates are not known to be stored, to carry
   * across continue-as-new. Equal answers (by `keyOf`) are carried once.
   */
  toCarry(now: number, keyOf: (answer: A) => string = JSON.stringify): LedgerCarry<A> {
    this.prune(now);
    const kept = [...this.entries].filter(([, entry]) => !entry.recorded);
    const answers = new Interned<A>();
    return {
      triggerIds: kept.map(([id]) => id),
      answerOf: kept.map(([, e]) => answers.indexOf(keyOf(e.answer), e.answer)),
      answers: answers.values,
      at: differences(kept.map(([, e]) => e.at)),
    };
  }
}

/**
 * A ledger as carried across continue-as-new, column by column, oldest
 * decision first: cheap to write and to read, each distinct answer once.
 */
export interface LedgerCarry<A> {
  readonly triggerIds: readonly string[];
  /** Each trigger's answer, as an index into `answers`. */
  readonly answerOf: readonly number[];
  readonly answers: readonly A[];
  /** When each was decided (epoch milliseconds) minus the one before; the first's is itself. */
  readonly at: readonly number[];
}

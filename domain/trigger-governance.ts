import { differences, Interned, runningSums } from './carry-columns';
import { jsonStringBytes } from './json-bytes';
import type { CooldownAction, GovernedReason, TriggerPolicy } from './trigger-policy-bounded';

/**
 * The rules that decide a trigger's fate, as pure functions of the per-model
 * workflow's state and its clock (milliseconds since the epoch; inside a
 * workflow that is the SDK's deterministic `Date.now()`). The workflow is the
 * single, serialised arbiter: it calls `decideTrigger`, applies the answer
 * and keeps the state; nothing here does I/O, generates ids or reads a clock.
 *
 * The order of the checks is the order of precedence:
 * 1. a dedup key seen within its TTL → `deduplicated` (answers the earlier trigger and its run);
 * 2. a frozen model → `suppressed` (nothing starts until it is unfrozen);
 * 3. a run in progress → the trigger opens (`queued`) or joins (`joined`) the one follow-up run,
 *    or is `held` for it when the run is in canary or bake;
 * 4. a cooldown after the last run → per reason: `held` for the follow-up that starts when it ends,
 *    `suppressed`, or (manual by default) no cooldown: `started`, taking along a held follow-up;
 * 5. otherwise `started`.
 * A trigger that would add a run (start one, or open the follow-up) is `suppressed` when the
 * daily run budget is used; joining a follow-up that is already counted is always allowed.
 */

export const DAY_MS = 86_400_000;

export type GovernedFate = 'started' | 'queued' | 'joined' | 'held' | 'deduplicated' | 'suppressed';

/**
 * What the workflow does with its runs: start a new one now, start the waiting
 * follow-up now, open the follow-up, add the trigger to it, or nothing.
 */
export type RunAction = 'start' | 'start-follow-up' | 'open-follow-up' | 'join-follow-up' | 'none';

export interface DedupEntry {
  /**
   * The trigger that brought the key; null for a key carried over from an
   * earlier execution of the model's workflow, which carries keys without
   * their triggers (the API finds that trigger by key and run).
   */
  readonly triggerId: string | null;
  readonly runId: string;
  /** Epoch milliseconds after which the key counts as new. */
  readonly expiresAt: number;
}

export interface Cooldown {
  /** Epoch milliseconds. */
  readonly until: number;
  /** Which run, and how it ended, e.g. `run 1f2e… rolled_back`. */
  readonly after: string;
}

export interface GovernanceState {
  /** null: triggers came without a policy (histories recorded before governance): no limits at all. */
  readonly policy: TriggerPolicy | null;
  readonly frozen: { readonly reason: string | null } | null;
  readonly current: { readonly runId: string; readonly stage: string | null } | null;
  /** The one follow-up run, waiting for the current run, a cooldown or an unfreeze. */
  readonly pending: { readonly runId: string } | null;
  readonly cooldown: Cooldown | null;
  /** When runs started (epoch milliseconds), at least those of the last 24 hours. */
  readonly runStarts: readonly number[];
  readonly dedup: DedupLookup;
}

export interface IncomingTrigger {
  readonly reason: GovernedReason;
  readonly dedupKey: string | null;
}

export interface TriggerDecision {
  readonly fate: GovernedFate;
  readonly action: RunAction;
  /** Why it was held, suppressed or deduplicated; null for the plain fates. */
  readonly reason: string | null;
  /** For `deduplicated`: the earlier trigger and the run it belongs to. */
  readonly duplicateOf: DedupEntry | null;
}

/** What "no policy" means: the behaviour before governance (no dedup, cooldown or budget). */
const UNGOVERNED: TriggerPolicy = {
  dedupTtlSeconds: 0,
  cooldownSeconds: 0,
  rollbackCooldownSeconds: 0,
  dailyRunBudget: Number.POSITIVE_INFINITY,
  duringCooldown: {
    drift: 'bypass',
    performance: 'bypass',
    schedule: 'bypass',
    manual: 'bypass',
    registry: 'bypass',
  },
};

/** The stages in which a new model is taking traffic; triggers wait for the rollout to finish. */
const ROLLOUT_STAGES: ReadonlySet<string> = new Set(['canary', 'promote', 'bake']);

const iso = (ms: number) => new Date(ms).toISOString();

function decision(
  fate: GovernedFate,
  action: RunAction,
  reason: string | null = null,
  duplicateOf: DedupEntry | null = null,
): TriggerDecision {
  return { fate, action, reason, duplicateOf };
}

/**
 * Decides one trigger's fate (see the module comment for the rules).
 *
 * @example
 * decideTrigger({ policy, frozen: null, current: null, pending: null, cooldown: null, runStarts: [], dedup: {} },
 *   { reason: 'drift', dedupKey: null }, now); // => { fate: 'started', action: 'start', … }
 */
export function decideTrigger(
  state: GovernanceState,
  trigger: IncomingTrigger,
  now: number,
): TriggerDecision {
  const policy = state.policy ?? UNGOVERNED;
  if (trigger.dedupKey !== null) {
    const seen = state.dedup.get(trigger.dedupKey);
    if (seen !== undefined && seen.expiresAt > now) {
      const seenIn = seen.triggerId === null ? `run ${seen.runId}` : `trigger ${seen.triggerId}`;
      const reason = `dedupKey seen in ${seenIn} (until ${iso(seen.expiresAt)})`;
      return decision('deduplicated', 'none', reason, seen);
    }
  }
  if (state.frozen !== null) {
    return decision('suppressed', 'none', `frozen: ${state.frozen.reason ?? 'no reason given'}`);
  }
  const budget = budgetRefusal(state, policy, now);

  if (state.current !== null) {
    const { runId, stage } = state.current;
    const rollout = stage !== null && ROLLOUT_STAGES.has(stage);
    const heldFor = `run ${runId} is in ${stage}; the follow-up starts after it ends`;
    if (state.pending !== null) {
      return rollout ? decision('held', 'join-follow-up', heldFor) : decision('joined', 'join-follow-up');
    }
    if (budget !== null) return decision('suppressed', 'none', budget);
    return rollout ? decision('held', 'open-follow-up', heldFor) : decision('queued', 'open-follow-up');
  }

  const cooldown = activeCooldown(state, now);
  const action: CooldownAction = cooldown === null ? 'bypass' : policy.duringCooldown[trigger.reason];
  const cooling = cooldown === null ? '' : `cooldown until ${iso(cooldown.until)} after ${cooldown.after}`;
  if (action === 'suppress') return decision('suppressed', 'none', cooling);
  if (state.pending !== null) {
    // A follow-up is waiting (for the cooldown, or it is about to start).
    if (action === 'bypass' && cooldown !== null) return decision('started', 'start-follow-up');
    return cooldown === null
      ? decision('joined', 'join-follow-up')
      : decision('held', 'join-follow-up', cooling);
  }
  if (budget !== null) return decision('suppressed', 'none', budget);
  if (action === 'hold') return decision('held', 'open-follow-up', cooling);
  return decision('started', 'start');
}

/** The cooldown in force at `now`, or null. */
export function activeCooldown(state: Pick<GovernanceState, 'cooldown'>, now: number): Cooldown | null {
  return state.cooldown !== null && state.cooldown.until > now ? state.cooldown : null;
}

/** Why one more run may not start or be queued now (the daily budget), or null when it may. */
function budgetRefusal(state: GovernanceState, policy: TriggerPolicy, now: number): string | null {
  const started = runsInLastDay(state.runStarts, now);
  // The follow-up counts as soon as it is opened, so starting it later never breaks the budget.
  const counted = started.length + (state.pending === null ? 0 : 1);
  if (counted < policy.dailyRunBudget) return null;
  const oldest = started[0];
  const next = oldest === undefined ? '' : `; the next may start after ${iso(oldest + DAY_MS)}`;
  return `daily budget of ${policy.dailyRunBudget} runs used${next}`;
}

/** Start times within the 24 hours before `now`, oldest first. */
export function runsInLastDay(runStarts: readonly number[], now: number): number[] {
  return runStarts.filter((t) => t > now - DAY_MS).sort((a, b) => a - b);
}

/**
 * When the waiting follow-up may start: at once, or when the cooldown ends;
 * null while the model is frozen or there is no follow-up or a run is in progress.
 */
export function followUpStartsAt(state: GovernanceState, now: number): number | null {
  if (state.pending === null || state.current !== null || state.frozen !== null) return null;
  const cooldown = activeCooldown(state, now);
  return cooldown === null ? now : cooldown.until;
}

/** The cooldown that follows a run that ended at `endedAt`, or null when the policy asks for none. */
export function cooldownAfterRun(
  policy: TriggerPolicy | null,
  run: { readonly runId: string; readonly outcome: string },
  endedAt: number,
): Cooldown | null {
  const p = policy ?? UNGOVERNED;
  const seconds = run.outcome === 'rolled_back' ? p.rollbackCooldownSeconds : p.cooldownSeconds;
  if (seconds <= 0) return null;
  return { until: endedAt + seconds * 1000, after: `run ${run.runId} ${run.outcome}` };
}

/** Reads the dedup keys seen so far (a `DedupIndex`, or any Map of them). */
export interface DedupLookup {
  get(dedupKey: string): DedupEntry | undefined;
}

/**
 * The dedup keys a model has seen, each with the trigger and run it belongs
 * to, kept for their TTL. Under a storm of alerts with fresh keys this grows by
 * one key per trigger, and the model's workflow consults it on every one, so
 * every operation is cheap: a Map in the order keys were remembered, which is
 * the order they expire in while the TTL stays the same. Pruning drops expired
 * keys from the front and stops at the first live one; a key left behind it
 * because the TTL was shortened meanwhile is ignored by `decideTrigger` (which
 * checks `expiresAt`) and dropped once the keys before it are gone.
 */
export class DedupIndex implements DedupLookup {
  private readonly keys = new Map<string, DedupEntry>();

  /** Starts from what an earlier execution carried (`toCarry`), oldest expiry first. */
  constructor(carried?: DedupCarry) {
    if (!carried) return;
    const expiresAt = runningSums(carried.expiresAt);
    carried.keys.forEach((key, i) => {
      this.keys.set(key, {
        triggerId: null,
        runId: carried.runIds[carried.runs[i]!]!,
        expiresAt: expiresAt[i]!,
      });
    });
  }

  get(dedupKey: string): DedupEntry | undefined {
    return this.keys.get(dedupKey);
  }

  /**
   * Records the dedup key of a trigger that became part of a run. Suppressed
   * triggers are not recorded: they did nothing, so a re-sent alert is judged afresh.
   */
  remember(
    entry: { readonly dedupKey: string | null; readonly triggerId: string; readonly runId: string },
    policy: TriggerPolicy | null,
    now: number,
  ): void {
    const ttl = (policy ?? UNGOVERNED).dedupTtlSeconds;
    if (entry.dedupKey === null || ttl <= 0) return;
    // Re-inserted at the back, where the newest expiry belongs.
    this.keys.delete(entry.dedupKey);
    this.keys.set(entry.dedupKey, {
      triggerId: entry.triggerId,
      runId: entry.runId,
      expiresAt: now + ttl * 1000,
    });
  }

  /** Drops expired keys from the front, and the oldest beyond `maxKeys`. */
  prune(now: number, maxKeys = MAX_DEDUP_KEYS): void {
    for (const [key, entry] of this.keys) {
      if (entry.expiresAt > now && this.keys.size <= maxKeys) break;
      this.keys.delete(key);
    }
  }

  /** How many keys are within their TTL at `now`. */
  liveCount(now: number): number {
    let live = 0;
    for (const entry of this.keys.values()) if (entry.expiresAt > now) live++;
    return live;
  }

  /**
   * The live keys, to carry across continue-as-new: the newest `maxKeys`, and
   * as many of those as fit in `maxBytes` as JSON.
   */
  toCarry(now: number, maxKeys = MAX_DEDUP_KEYS, maxBytes = MAX_CARRIED_DEDUP_BYTES): DedupCarry {
    const live = [...this.keys].filter(([, e]) => e.expiresAt > now);
    // Already in expiry order unless the TTL changed; the sort is then nearly free.
    live.sort(([, a], [, b]) => a.expiresAt - b.expiresAt);
    let first = live.length;
    let bytes = 0;
    const runsSeen = new Set<string>();
    while (first > 0 && live.length - first < maxKeys) {
      const [key, entry] = live[first - 1]!;
      // The key, at most 16 characters for each of the two numbers, and a new run id.
      bytes += jsonStringBytes(key) + 34;
      if (!runsSeen.has(entry.runId)) {
        runsSeen.add(entry.runId);
        bytes += jsonStringBytes(entry.runId);
      }
      if (bytes > maxBytes) break;
      first -= 1;
    }
    const kept = live.slice(first);
    const runIds = new Interned<string>();
    return {
      keys: kept.map(([key]) => key),
      runs: kept.map(([, e]) => runIds.indexOf(e.runId, e.runId)),
      runIds: runIds.values,
      expiresAt: differences(kept.map(([, e]) => e.expiresAt)),
    };
  }
}

/**
 * The dedup keys carried across continue-as-new, column by column, oldest
 * expiry first. A hand-over holds up the triggers that arrive meanwhile, for
 * longer the more it carries (bench/continue-as-new-handover.ts), so this is
 * small and cheap to write and read: no object per key, each run id
 * once (a storm's keys share one or two runs), expiries as differences, and
 * not the trigger that brought each key (a random id, the bulk of the bytes;
 * the API looks it up when a trigger is deduplicated against such a key).
 */
export interface DedupCarry {
  readonly keys: readonly string[];
  /** Each key's run, as an index into `runIds`. */
  readonly runs: readonly number[];
  readonly runIds: readonly string[];
  /** Each key's expiry (epoch milliseconds) minus the one before it; the first's is itself. */
  readonly expiresAt: readonly number[];
}

const MAX_DEDUP_KEYS = 5_000;
/**
 * The dedup keys carried across continue-as-new take at most this many bytes
 * (as JSON, UTF-8 at worst). 5,000 keys of 200 characters could take 3.5 MB,
 * past Temporal's 2 MB payload limit, which would fail the workflow task for
 * good; the oldest keys beyond this go (an alert re-sent with one is judged afresh).
 */
export const MAX_CARRIED_DEDUP_BYTES = 512 * 1024;

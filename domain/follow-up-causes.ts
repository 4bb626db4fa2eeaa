/**
 * The causes one run carries, kept within bounds.
 *
 * Every trigger that arrives while a run is in progress joins the one
 * follow-up run, which carries its causes: in the model workflow's state, in
 * the input of continue-as-new and in the run workflow's input. A storm of
 * alerts (hundreds, each with up to 16 KiB of details) would grow those
 * payloads past Temporal's 2 MB limit, and a payload over the limit fails the
 * workflow task for good: the model's workflow would be wedged. So a run keeps
 * at most `MAX_RUN_CAUSES` causes and `MAX_RUN_CAUSES_BYTES` of them as JSON,
 * and counts the ones it let go (`omittedCauses`). Each trigger still gets its
 * answer (the run it joined) and its row in the triggers table names the run.
 *
 * Which causes stay: the first (the run's reason, its `CtTrigger` search
 * attribute), the newest, and for each detail a run acts on (`dataUri`,
 * `window`, `mlflowVersion`: the newest trigger naming one wins) the newest
 * cause that names it. The oldest of the others go first.
 */

import { jsonBytes } from './json-bytes';

/** At most this many causes in one run. */
export const MAX_RUN_CAUSES = 200;
/** At most this many bytes of causes (as JSON, counted as UTF-8 at worst) in one run. */
export const MAX_RUN_CAUSES_BYTES = 128 * 1024;

/** Details that change what a run does; the newest cause naming each is never dropped. */
const ACTED_ON_DETAILS = ['dataUri', 'window', 'mlflowVersion'] as const;

interface CauseLike {
  readonly details: Readonly<Record<string, unknown>>;
}

/**
 * A follow-up run's causes within the limits. Remembers each cause's size, so
 * that a trigger joining the run costs the size of that one cause (and of any
 * it pushes out), not of all 200: under a storm every trigger joins.
 *
 * @example
 * const causes = new FollowUpCauses([first, ...199 more]);
 * causes.add(next);
 * causes.list; // [first, ...198 of the newest, next]
 * causes.omitted; // 1
 */
export class FollowUpCauses<C extends CauseLike> {
  private readonly causes: C[];
  /** Each cause's jsonBytes, index for index. */
  private readonly sizes: number[];
  private bytes: number;
  private omittedCauses: number;

  /** `causes`: a run's causes as carried (already within the limits, which the next `add` restores if not). */
  constructor(causes: readonly C[], omitted = 0) {
    this.causes = [...causes];
    this.sizes = this.causes.map(jsonBytes);
    this.bytes = this.sizes.reduce((a, b) => a + b, 2);
    this.omittedCauses = omitted;
  }

  /** The causes kept, oldest first; the list is live: read it, do not change it. */
  get list(): readonly C[] {
    return this.causes;
  }

  /** Causes dropped so far. */
  get omitted(): number {
    return this.omittedCauses;
  }

  /** Adds `cause`, then drops the oldest causes not kept on purpose (see above) until both limits hold. */
  add(cause: C): void {
    const { causes, sizes } = this;
    causes.push(cause);
    sizes.push(jsonBytes(cause));
    this.bytes += sizes.at(-1)!;
    while (causes.length > MAX_RUN_CAUSES || this.bytes > MAX_RUN_CAUSES_BYTES) {
      const i = oldestDroppable(causes);
      if (i < 0) break; // only kept causes are left: each is at most a trigger's details in size
      this.bytes -= sizes[i]!;
      causes.splice(i, 1);
      sizes.splice(i, 1);
      this.omittedCauses += 1;
    }
  }
}

/** The index of the oldest cause that may go, or -1. */
function oldestDroppable(causes: readonly CauseLike[]): number {
  const kept = new Set<number>([0, causes.length - 1]);
  for (const key of ACTED_ON_DETAILS) {
    for (let i = causes.length - 1; i >= 0; i--) {
      if (causes[i]!.details[key] !== undefined) {
        kept.add(i);
        break;
      }
    }
  }
  for (let i = 1; i < causes.length - 1; i++) if (!kept.has(i)) return i;
  return -1;
}

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

export interface BoundedCauses<C extends CauseLike> {
  readonly causes: C[];
  /** Causes dropped so far (this call's and earlier ones'). */
  readonly omittedCauses: number;
}

/**
 * `causes` plus `added`, within the limits: drops the oldest causes that are
 * not kept on purpose (see above) until both limits hold.
 *
 * @example
 * addCause({ causes: [first, ...199 more], omittedCauses: 0 }, next)
 * // → { causes: [first, ...198 of the newest, next], omittedCauses: 1 }
 */
export function addCause<C extends CauseLike>(
  run: { readonly causes: readonly C[]; readonly omittedCauses?: number },
  added: C,
): BoundedCauses<C> {
  const causes = [...run.causes, added];
  let omitted = run.omittedCauses ?? 0;
  const sizes = causes.map(jsonBytes);
  let bytes = sizes.reduce((a, b) => a + b, 2);
  while (causes.length > MAX_RUN_CAUSES || bytes > MAX_RUN_CAUSES_BYTES) {
    const i = oldestDroppable(causes);
    if (i < 0) break; // only kept causes are left: each is at most a trigger's details in size
    bytes -= sizes[i]!;
    causes.splice(i, 1);
    sizes.splice(i, 1);
    omitted += 1;
  }
  return { causes, omittedCauses: omitted };
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

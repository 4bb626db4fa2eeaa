import { ApplicationFailure } from '@temporalio/activity';
import type { Activities } from '../../activities';

type ActivityName = keyof Activities;

/**
 * - `fail`: throws before the real activity runs (nothing written).
 * - `fail-after-write`: runs the real activity, then throws, as when a worker
 *   dies after its write committed and Temporal retries the activity.
 */
export type FaultMode = 'fail' | 'fail-after-write';

export interface Fault {
  readonly activity: ActivityName;
  /** Which calls it applies to, from the activity's input (one model; the undo rather than the step). */
  readonly when: (input: Record<string, unknown>) => boolean;
  readonly mode: FaultMode;
  /** How many matching calls fail (Infinity: every one). */
  readonly times: number;
  /** A failure Temporal does not retry: the step has failed for good. */
  readonly nonRetryable?: boolean;
}

interface Call {
  readonly activity: ActivityName;
  readonly input: Record<string, unknown>;
  readonly failed: boolean;
}

/**
 * Wraps the real activities, so a worker runs them unchanged except where a
 * fault says otherwise; every call is recorded.
 */
export class FaultInjector {
  private readonly faults: { fault: Fault; failed: number }[] = [];
  readonly calls: Call[] = [];

  add(fault: Fault): void {
    this.faults.push({ fault, failed: 0 });
  }

  /** Where the record stands now: pass it to `callsOf` to see only the calls made since. */
  mark(): number {
    return this.calls.length;
  }

  /** The recorded calls of one activity that match (since a `mark()`). */
  callsOf(activity: ActivityName, when: (input: Record<string, unknown>) => boolean, since = 0): Call[] {
    return this.calls.slice(since).filter((c) => c.activity === activity && when(c.input));
  }

  readonly wrap = (activities: Activities): Activities => {
    const wrapped: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(activities)) {
      const real = fn as (input: Record<string, unknown>) => Promise<unknown>;
      wrapped[name] = async (input: Record<string, unknown>) => {
        const active = this.faults.find(
          (f) => f.fault.activity === name && f.failed < f.fault.times && f.fault.when(input ?? {}),
        );
        if (!active) {
          this.calls.push({ activity: name as ActivityName, input, failed: false });
          return real(input);
        }
        active.failed += 1;
        this.calls.push({ activity: name as ActivityName, input, failed: true });
        if (active.fault.mode === 'fail-after-write') await real(input);
        const message = `injected ${active.fault.mode} of ${name} (${active.failed})`;
        throw active.fault.nonRetryable
          ? ApplicationFailure.nonRetryable(message, 'InjectedFault')
          : ApplicationFailure.retryable(message, 'InjectedFault');
      };
    }
    return wrapped as Activities;
  };
}

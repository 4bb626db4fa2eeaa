import { condition } from '@temporalio/workflow';

/**
 * A workflow's clock for deciding after a timed wait: the task's time, but
 * never earlier than a moment the workflow already knows has come (a timer of
 * its own fired for it, or a watch reported it passed).
 *
 * Seen once, in the chaos soak: the SDK handed the activation that delivered
 * a fired timer an earlier task's time when it ran live (on the worker that
 * took the run over after the task meant to deliver it timed out with its
 * worker gone) and the later task's time when the same history replayed.
 * Deciding by `Date.now()` alone waited again live and went on at once on
 * replay: a history no worker could replay (TMPRL1100 on every task, the run
 * wedged). What a fired timer stood for is in the history, so decisions taken
 * against this clock are the same live and replayed (docs/run-workflow.md).
 */
export class WorkflowClock {
  private floor = Number.NEGATIVE_INFINITY;

  /** Milliseconds since the epoch, as `Date.now()`, never before a moment known to have come. */
  now(): number {
    return Math.max(Date.now(), this.floor);
  }

  /** Records that `moment` has come. */
  reached(moment: number): void {
    if (moment > this.floor) this.floor = moment;
  }

  /**
   * Waits until `woken` holds or `moment` comes, on one durable timer; true when
   * `woken` held. A moment already come waits for nothing.
   */
  async waitUntil(woken: () => boolean, moment: number): Promise<boolean> {
    const ms = moment - this.now();
    if (ms <= 0) return woken();
    const held = await condition(woken, ms);
    if (!held) this.reached(moment);
    return held;
  }
}

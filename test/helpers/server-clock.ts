import { Context } from '@temporalio/activity';
import { CancelledFailure, defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WatchClock } from '../../activities/watch-clock';

/**
 * Who holds the test server's clock. The server skips time only while no
 * lock is held: the client holds one unless it awaits a result, and each
 * workflow task and each running activity holds one. The client's lock is
 * released here while anything needs the clock to run (a result awaited, a
 * watch waiting), one unlock for all of them, so that lock and unlock calls
 * stay balanced however they overlap.
 */
export class ClockGate {
  private holders = 0;
  private calls: Promise<unknown> = Promise.resolve();

  constructor(private readonly env: TestWorkflowEnvironment) {}

  /** Runs `fn` with the client's lock released. */
  async released<T>(fn: () => Promise<T>): Promise<T> {
    if (this.holders++ === 0) await this.send('unlockTimeSkipping');
    try {
      return await fn();
    } finally {
      if (--this.holders === 0) await this.send('lockTimeSkipping');
    }
  }

  /** In the order they were asked for: an unlock overtaken by its lock would leave the clock stopped. */
  private send(call: 'lockTimeSkipping' | 'unlockTimeSkipping') {
    const service = this.env.connection.testService!;
    this.calls = this.calls.then(() => service[call]({}));
    return this.calls;
  }
}

/**
 * The rollout watches' clock on the test server. A watch's wait moves the
 * server's clock itself, in jumps of at most half its heartbeat timeout,
 * each after a heartbeat the server has acknowledged (the SDK's own
 * heartbeats go out later, throttled in real time, so a jump would outrun
 * them and time the watch out). A cancellation comes back with the
 * heartbeat's answer. The jump releases the client's lock and the watch's
 * own, so the clock runs to the next timer of any workflow, or to the jump's end.
 *
 * `holdAt(t)` keeps watches from moving the clock past `t`: they wait there
 * in real time, still beating, until `release()`.
 */
export class ServerClock implements WatchClock {
  private limit = Number.POSITIVE_INFINITY;

  constructor(
    private readonly env: TestWorkflowEnvironment,
    private readonly gate: ClockGate,
  ) {}

  now() {
    return this.env.currentTimeMs();
  }

  async wait(ms: number, details: unknown) {
    const { info } = Context.current();
    const longest = Math.max(1_000, (info.heartbeatTimeoutMs ?? 10_000) / 2);
    const end = (await this.now()) + ms;
    for (;;) {
      const beat = await this.env.client.workflowService.recordActivityTaskHeartbeat({
        namespace: info.activityNamespace,
        taskToken: info.taskToken,
        details: { payloads: [defaultPayloadConverter.toPayload(details)] },
      });
      if (beat.cancelRequested) throw new CancelledFailure('watch cancelled');
      const now = await this.now();
      if (now >= end) return;
      const jump = Math.min(end - now, longest, this.limit - now);
      if (jump > 0) await this.gate.released(() => this.env.sleep(jump));
      else await new Promise((r) => setTimeout(r, 200));
    }
  }

  holdAt(t: number) {
    this.limit = t;
  }

  release() {
    this.limit = Number.POSITIVE_INFINITY;
  }
}

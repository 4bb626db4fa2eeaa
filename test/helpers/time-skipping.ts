import { Client, type ConnectionPlugin } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../../scripts/temporal-dev-server';
import { installSdkRuntime } from '../../workers/runtime';
import { modelWorkflowId } from '../../workflows/messages';
import { ClockGate, ServerClock } from './server-clock';
import { type Stack, type StackOptions, startStackWith } from './stack';

/**
 * A whole ctloop stack (API, control and training workers with the real
 * workflow bundle and the real activities, a real database) on Temporal's
 * time-skipping test server, so that a policy's real durations (a 24 h
 * approval deadline, a week's bake) pass in seconds.
 *
 * Time is global to the server: one environment per test file, tests in it
 * one after another. The server's clock stands still (it runs at the pace of
 * real time) until `skip()` or `result()` lets it jump to the next timer;
 * activities run in real time, and the clock does not jump while one runs,
 * except the rollout watches: they wait on the server's clock and move it
 * themselves (./server-clock.ts), so a canary step or a bake passes in
 * seconds without the test's help. While a watch runs, wait in real time
 * for what it does (`runWatchesTo()`), not with `skip()`.
 */
export interface TimeSkippingStack extends Stack {
  readonly env: TestWorkflowEnvironment;
  /** Skips the server's clock forward by `ms` (timers due meanwhile fire, in order). */
  skip(ms: number): Promise<void>;
  /** The server's clock (what `Date.now()` is inside workflows). */
  now(): Promise<number>;
  /** Awaits a workflow's result, letting the clock jump from timer to timer meanwhile. */
  result<T = unknown>(workflowId: string): Promise<T>;
  /**
   * Lets the running watches move the clock to `t` and holds it there (they
   * wait in real time) until `result()` is awaited or this is called again.
   */
  runWatchesTo(t: number): Promise<void>;
  /** The number of events in the history of the workflow's current execution. */
  historyLength(workflowId: string): Promise<number>;
}

/**
 * The client's gRPC keepalive pings every 30 s by default; the Java test server
 * (grpc-java) permits one every 5 minutes and answers more with GOAWAY
 * "too_many_pings", after which the client's calls (a result being awaited,
 * queries) hang. Ping no more often than it permits.
 */
const javaServerKeepalive: ConnectionPlugin = {
  name: 'ctloop-test-server-keepalive',
  configureConnection: (options) => ({
    ...options,
    channelArgs: {
      ...options.channelArgs,
      'grpc.keepalive_time_ms': 6 * 60_000,
      'grpc.keepalive_permit_without_calls': 0,
    },
  }),
};

/**
 * The test server leaks a time-skipping lock for each child a workflow
 * abandons still running when it closes (the run's last notification, started
 * just before it ends), once that child completes: from then on the clock no
 * longer jumps, and `skip()` takes real time. Once those children have ended,
 * their locks are released here. (The dev server and production have no such locks.)
 */
async function releaseAbandonedChildLocks(env: TestWorkflowEnvironment, workflowId: string) {
  const closed = await env.client.workflow.getHandle(workflowId).describe();
  for (const child of closed.raw.pendingChildren ?? []) {
    const handle = env.client.workflow.getHandle(child.workflowId!, child.runId ?? undefined);
    for (let i = 0; (await handle.describe()).status.name === 'RUNNING'; i++) {
      if (i > 300) throw new Error(`child ${child.workflowId} of ${workflowId} did not end within a minute`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await env.connection.testService!.unlockTimeSkipping({});
  }
}

export async function startTimeSkippingStack(opts: StackOptions = {}): Promise<TimeSkippingStack> {
  const { inject } = await import('vitest');
  // Before the environment, whose connections create the SDK's runtime.
  installSdkRuntime({ logLevel: 'warn' });
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    // The binary comes from scripts/ensure-temporal-test-server: nothing is downloaded here.
    server: {
      executable: { type: 'existing-path', path: inject('timeSkippingServerPath') },
    },
    plugins: [javaServerKeepalive],
  });
  const gate = new ClockGate(env);
  const clock = new ServerClock(env, gate);
  // The SDK's time-skipping client unlocks the clock by itself while it awaits a result;
  // the stack's client leaves that to the gate, which keeps it in step with the watches.
  const client = new Client({ connection: env.connection, namespace: env.namespace });
  let stack: Stack;
  try {
    // The workflows set ctloop's search attributes (the dev server gets them as flags).
    await env.connection.operatorService.addSearchAttributes({
      namespace: 'default',
      searchAttributes: Object.fromEntries(
        Object.keys(SEARCH_ATTRIBUTES).map((name) => [
          name,
          temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        ]),
      ),
    });
    stack = await startStackWith(
      {
        temporalAddress: env.address,
        postgresUrl: inject('postgresUrl'),
        workflowBundlePath: inject('workflowBundlePath'),
        trainerPython: inject('trainerPython'),
      },
      { ...opts, temporal: { client, workerConnection: env.nativeConnection }, watchClock: clock },
    );
  } catch (err) {
    await env.teardown();
    throw err;
  }
  return {
    ...stack,
    env,
    skip: (ms) => env.sleep(ms),
    now: () => env.currentTimeMs(),
    async result<T>(workflowId: string) {
      clock.release();
      const result = (await gate.released(() => client.workflow.getHandle(workflowId).result())) as T;
      await releaseAbandonedChildLocks(env, workflowId);
      return result;
    },
    async runWatchesTo(t) {
      clock.holdAt(t);
      for (const deadline = Date.now() + 60_000; (await env.currentTimeMs()) < t; ) {
        if (Date.now() > deadline)
          throw new Error(`no watch moved the clock to ${new Date(t).toISOString()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async historyLength(workflowId) {
      return (await env.client.workflow.getHandle(workflowId).describe()).historyLength;
    },
    async close() {
      try {
        await stack.close();
      } finally {
        await env.teardown();
      }
    },
  };
}

/** ARCHITECTURE.md: no ctloop workflow execution grows past its event budget, whatever the policy. */
export const EVENT_BUDGET = 10_000;

/**
 * Awaits the run's result while reading the history length of the current
 * execution of each workflow; past the budget, the run is terminated and the
 * test fails with the counts.
 */
export async function resultWithinBudget(ts: TimeSkippingStack, model: string, workflowId: string) {
  const largest: Record<string, number> = { [workflowId]: 0, [modelWorkflowId(model)]: 0 };
  let over: string | null = null;
  let done = false;
  const watching = (async () => {
    while (!done && over === null) {
      for (const id of Object.keys(largest)) {
        const events = await ts.historyLength(id);
        largest[id] = Math.max(largest[id]!, events);
        if (events > EVENT_BUDGET && over === null) {
          over = `${id} reached ${events} events`;
          await ts.client.workflow
            .getHandle(workflowId)
            .terminate(`over the event budget: ${over}`)
            .catch(() => {});
        }
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  try {
    const result = await ts
      .result<{ outcome: string; reason: string }>(workflowId)
      .catch((err: Error) => ({ error: err.message }));
    return { result, largest, over };
  } finally {
    done = true;
    await watching;
    for (const id of Object.keys(largest)) largest[id] = Math.max(largest[id]!, await ts.historyLength(id));
    console.info(`largest executions: ${JSON.stringify(largest)}`);
  }
}

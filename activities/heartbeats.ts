import { Context } from '@temporalio/activity';

/** How often long activities report that they are alive (well inside the heavy profile's heartbeat timeout). */
export const HEARTBEAT_EVERY_MS = 5_000;

/**
 * Runs `work` while heartbeating `details()` every few seconds, so Temporal
 * tells a slow activity from a lost worker, and delivers a cancellation
 * (through the abort signal given to `work`) while it runs. Only the time
 * `work` spends waiting (I/O, another thread) lets a beat through. Outside an
 * activity (a script calling the function directly) it only runs `work`.
 */
export async function heartbeatWhile<T>(
  details: () => unknown,
  work: (signal: AbortSignal | undefined) => Promise<T>,
  everyMs: number = HEARTBEAT_EVERY_MS,
): Promise<T> {
  let context: Context | null = null;
  try {
    context = Context.current();
  } catch {
    context = null;
  }
  if (!context) return work(undefined);
  const ctx = context;
  ctx.heartbeat(details());
  const beat = setInterval(() => ctx.heartbeat(details()), everyMs);
  try {
    return await work(ctx.cancellationSignal);
  } finally {
    clearInterval(beat);
  }
}

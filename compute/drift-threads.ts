import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { DriftPolicy } from '../domain/drift/policy';
import type { ReferenceSketch } from '../domain/drift/reference-sketch';
import type { ColumnarData, DriftFeature, MeasuredFeature } from '../domain/drift/report';
import { columnBuffers, type ThreadReply, type ThreadTask } from './drift-thread-messages';
import { startThread } from './start-thread';

/**
 * Drift computation on several threads: the reference and the current file
 * are parsed at the same time, each on its own thread (CSV; Parquet is parsed
 * on the calling thread, meanwhile), and the features are
 * then measured in groups, one group a thread, with the same pure functions
 * the one-thread path uses (domain/drift), so the report is the same.
 * Numeric columns move between threads as transferred buffers, not copies;
 * categorical ones (arrays of strings) are copied.
 *
 * The threads are kept for the life of the process (a pool per process, as
 * many threads as the largest count asked for) and do not keep it alive
 * while idle.
 */

/** CTLOOP_DRIFT_THREADS, or min(available cores, 4); 1 means the one-thread path. */
export function driftThreadCount(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.CTLOOP_DRIFT_THREADS;
  if (raw === undefined || raw.trim() === '') return Math.min(os.availableParallelism(), 4);
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`CTLOOP_DRIFT_THREADS must be a positive integer, got '${raw}'`);
  }
  return count;
}

/**
 * `csvColumns` on a pool thread. The bytes are transferred when they are
 * their buffer's only view (a file read whole), copied otherwise.
 */
export async function csvColumnsOnThread(
  bytes: Uint8Array,
  features: readonly DriftFeature[],
  threads: number,
): Promise<ColumnarData> {
  const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  const reply = await pool(threads).run(
    { kind: 'parse', bytes, features },
    owned && bytes.buffer instanceof ArrayBuffer ? [bytes.buffer] : [],
  );
  if (!reply.ok) throw new Error(reply.message);
  if (!('columns' in reply)) throw new Error('drift thread: a parse task got a measure reply');
  return reply.columns;
}

/**
 * `measureFeature` for every feature, in `threads` groups on the pool; the
 * results in feature order. When features fail, the error is the one of the
 * first failing feature in order, as the one-thread loop would throw.
 * The columns' buffers are transferred: the caller must not use them after.
 */
export async function measureFeaturesOnThreads(
  features: readonly DriftFeature[],
  data: { readonly reference: ColumnarData; readonly current: ColumnarData },
  policy: DriftPolicy,
  threads: number,
): Promise<MeasuredFeature[]> {
  const groups = Array.from({ length: Math.min(threads, features.length) }, (_, g) =>
    features.map((feature, index) => ({ feature, index })).filter(({ index }) => index % threads === g),
  );
  const tasks = groups.map((group) => {
    const pick = (columns: ColumnarData): ColumnarData =>
      Object.fromEntries(
        group
          .filter(({ feature }) => Object.hasOwn(columns, feature.name))
          .map(({ feature }) => [feature.name, columns[feature.name]!]),
      );
    return { features: group, reference: pick(data.reference), current: pick(data.current) };
  });
  const transfer = columnBuffers(...tasks.flatMap((t) => [t.reference, t.current]));
  const replies = await Promise.all(
    tasks.map((task) => {
      const mine = columnBuffers(task.reference, task.current).filter((b) => transfer.includes(b));
      return pool(threads).run({ kind: 'measure', ...task, policy }, mine);
    }),
  );
  const failures = replies.filter((r) => !r.ok);
  if (failures.length > 0) {
    const first = failures.reduce((a, b) => ((a.featureIndex ?? -1) <= (b.featureIndex ?? -1) ? a : b));
    throw new Error(first.message);
  }
  const measured: MeasuredFeature[] = new Array(features.length);
  replies.forEach((reply, g) => {
    if (!('measured' in reply)) throw new Error('drift thread: a measure task got a parse reply');
    reply.measured.forEach((m, k) => {
      measured[groups[g]![k]!.index] = m;
    });
  });
  return measured;
}

/**
 * The sketch path's features on `threads` threads: each takes every
 * `threads`-th group of `group` features, reads those columns from the file
 * itself and measures them against its part of the sketch. The results in
 * feature order; the first failing feature's error, as one thread would throw.
 */
export async function measureSketchedParquetOnThreads(
  file: string,
  features: readonly DriftFeature[],
  sketch: ReferenceSketch,
  policy: DriftPolicy,
  options: { readonly threads: number; readonly group: number },
): Promise<MeasuredFeature[]> {
  const { threads, group } = options;
  const groups = Array.from({ length: threads }, (_, g) =>
    features
      .map((feature, index) => ({ feature, index }))
      .filter(({ index }) => Math.floor(index / group) % threads === g),
  ).filter((g) => g.length > 0);
  const replies = await Promise.all(
    groups.map((mine) => {
      const part = new Map(mine.map(({ feature }) => [feature.name, sketch.features.get(feature.name)!]));
      return pool(threads).run(
        {
          kind: 'measure-sketched-parquet',
          file,
          group,
          features: mine,
          sketch: { resolution: sketch.resolution, features: part },
          policy,
        },
        [],
      );
    }),
  );
  const failure = replies.find((r) => !r.ok);
  if (failure && !failure.ok) throw new Error(failure.message);
  const measured: MeasuredFeature[] = new Array(features.length);
  replies.forEach((reply, g) => {
    if (!('measured' in reply)) throw new Error('drift thread: a sketched task got another reply');
    reply.measured.forEach((m, k) => {
      measured[groups[g]![k]!.index] = m;
    });
  });
  return measured;
}

type Task = ThreadTask extends infer T ? (T extends ThreadTask ? Omit<T, 'id'> : never) : never;

interface Pending {
  readonly task: ThreadTask;
  readonly transfer: ArrayBuffer[];
  readonly resolve: (reply: ThreadReply) => void;
  readonly reject: (err: Error) => void;
}

/** Threads that take one task at a time; tasks beyond them wait in order. */
class DriftThreadPool {
  private readonly idle: Worker[] = [];
  private readonly waiting: Pending[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private nextId = 1;
  private started = 0;

  constructor(public size: number) {}

  run(task: Task, transfer: ArrayBuffer[]): Promise<ThreadReply> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ task: { ...task, id: this.nextId++ } as ThreadTask, transfer, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      const worker = this.idle.pop() ?? (this.started < this.size ? this.start() : undefined);
      if (!worker) return;
      const pending = this.waiting.shift()!;
      this.busy.set(worker, pending);
      worker.ref(); // a task in flight keeps the process alive until it answers
      worker.postMessage(pending.task, pending.transfer);
    }
  }

  private start(): Worker {
    const worker = startThread('./drift-thread');
    this.started++;
    worker.on('message', (reply: ThreadReply) => {
      const pending = this.busy.get(worker);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      pending?.resolve(reply);
      this.dispatch();
    });
    let gone = false;
    const lost = (err: Error) => {
      if (gone) return; // 'error' is followed by 'exit'
      gone = true;
      const pending = this.busy.get(worker);
      this.busy.delete(worker);
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      this.started--;
      pending?.reject(err);
      this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`drift thread exited with code ${code}`)));
    return worker;
  }

  async close(): Promise<void> {
    await Promise.all([...this.idle, ...this.busy.keys()].map((w) => w.terminate()));
  }
}

let shared: DriftThreadPool | undefined;

function pool(threads: number): DriftThreadPool {
  shared ??= new DriftThreadPool(threads);
  if (shared.size < threads) shared.size = threads;
  return shared;
}

/** Ends the pool's threads (they do not keep the process alive anyway). */
export async function closeDriftThreads(): Promise<void> {
  await shared?.close();
  shared = undefined;
}

/**
 * Training windows over time-partitioned data. A model's data source may be
 * a pattern of partition files, each dated by a `dt=YYYY-MM-DD` (or
 * `date=YYYY-MM-DD`) folder or file name, e.g.
 * `data/churn/dt=*\/part-*.parquet`. Every run picks its partitions when it
 * starts: the last `windowDays` days up to the run's start (or the window a
 * trigger names), with the newest `holdoutDays` days held out so that a
 * candidate is judged on the most recent data. Pure: the activity that lists
 * and reads the files (activities/data-window.ts) and the tests share it.
 */

const DAY_MS = 86_400_000;

/** A source is partitioned when it is a pattern: it names many files, not one. */
export function isPartitionedSource(uri: string): boolean {
  return /[*?]/.test(uri);
}

/**
 * The partition date in a path: the last `dt=` or `date=` segment (folder or
 * file name), as a UTC day; null when there is none or it is not a real date.
 *
 * @example partitionDate('data/churn/dt=2026-11-30/part-0.csv') // => '2026-11-30'
 */
export function partitionDate(path: string): string | null {
  const matches = [...path.matchAll(/(?:^|[/_.-])(?:dt|date)=(\d{4}-\d{2}-\d{2})(?=$|[/_.])/g)];
  const day = matches.at(-1)?.[1];
  if (!day) return null;
  const parsed = new Date(`${day}T00:00:00Z`);
  return Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== day ? null : day;
}

/** What a run asks of the data: the policy's `data` section, plus a trigger's override. */
export interface WindowRequest {
  /** The run's start (the workflow's clock). */
  readonly asOf: string;
  /** Days of data up to asOf; null: every partition. */
  readonly windowDays: number | null;
  /** The newest this many days of the window are the hold-out set; null: the policy's holdoutFraction. */
  readonly holdoutDays: number | null;
  /** The newest partition must be at most this many days older than asOf. */
  readonly maxAgeDays: number | null;
  /** A trigger's window: exact days (inclusive), replacing windowDays. */
  readonly override?: { readonly from: string; readonly to: string } | null;
}

export interface DatedPartition {
  readonly uri: string;
  readonly date: string;
}

export type WindowPlan =
  | {
      readonly ok: true;
      /** Inclusive UTC days. */
      readonly from: string;
      readonly to: string;
      /** Oldest first (rows are concatenated in this order, so the hold-out is the last rows). */
      readonly train: readonly DatedPartition[];
      readonly holdout: readonly DatedPartition[];
      /** Files matching the pattern whose path has no partition date (left out). */
      readonly undated: readonly string[];
    }
  | { readonly ok: false; readonly reason: string };

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Picks a run's partitions.
 *
 * @example
 * planWindow(['d/dt=2026-12-01/a.csv', 'd/dt=2026-12-05/a.csv'],
 *   { asOf: '2026-12-06T10:00:00Z', windowDays: 7, holdoutDays: 1, maxAgeDays: 2 })
 * // => { ok: true, from: '2026-11-30', to: '2026-12-06',
 * //      train: [{ date: '2026-12-01', … }], holdout: [{ date: '2026-12-05', … }], undated: [] }
 */
export function planWindow(paths: readonly string[], request: WindowRequest): WindowPlan {
  const asOfMs = new Date(request.asOf).getTime();
  if (Number.isNaN(asOfMs)) return { ok: false, reason: `not a time: ${request.asOf}` };
  const dated: DatedPartition[] = [];
  const undated: string[] = [];
  for (const uri of paths) {
    const date = partitionDate(uri);
    if (date) dated.push({ uri, date });
    else undated.push(uri);
  }
  dated.sort((a, b) => (a.date === b.date ? a.uri.localeCompare(b.uri) : a.date < b.date ? -1 : 1));
  if (dated.length === 0) {
    return {
      ok: false,
      reason: `no dated partitions (dt=YYYY-MM-DD) match the data source${undated.length ? `; ${undated.length} undated files` : ''}`,
    };
  }
  const newest = dated.at(-1)!.date;
  if (request.maxAgeDays !== null) {
    const ageDays = Math.floor((asOfMs - new Date(`${newest}T00:00:00Z`).getTime()) / DAY_MS);
    if (ageDays > request.maxAgeDays) {
      return {
        ok: false,
        reason: `data too old: the newest partition is ${newest}, ${ageDays} days before the run (at most ${request.maxAgeDays} allowed)`,
      };
    }
  }
  const to = request.override?.to ?? day(asOfMs);
  const from =
    request.override?.from ??
    (request.windowDays === null ? dated[0]!.date : day(asOfMs - (request.windowDays - 1) * DAY_MS));
  if (from > to) return { ok: false, reason: `empty window: ${from} is after ${to}` };
  const inWindow = dated.filter((p) => p.date >= from && p.date <= to);
  if (inWindow.length === 0) {
    return { ok: false, reason: `no partitions from ${from} to ${to} (newest: ${newest})` };
  }
  if (request.holdoutDays === null) return { ok: true, from, to, train: inWindow, holdout: [], undated };
  // The hold-out days count back from the newest partition in the window, so a window that ends
  // on a day without data still holds out its newest data.
  const windowNewest = inWindow.at(-1)!.date;
  const holdoutFrom = day(
    new Date(`${windowNewest}T00:00:00Z`).getTime() - (request.holdoutDays - 1) * DAY_MS,
  );
  const train = inWindow.filter((p) => p.date < holdoutFrom);
  const holdout = inWindow.filter((p) => p.date >= holdoutFrom);
  if (train.length === 0) {
    return {
      ok: false,
      reason: `nothing to train on: every partition from ${from} to ${to} is in the newest ${request.holdoutDays} days held out`,
    };
  }
  return { ok: true, from, to, train, holdout, undated };
}

/**
 * A trigger's window (`details.window`): `{ "from": "2026-09-01", "to": "2026-11-30" }`
 * or `{ "days": 30 }` counted back from the run's start. Returns the exact
 * days, null when the trigger names none, or an error message.
 */
export function windowOverride(
  value: unknown,
  asOf: string,
): { from: string; to: string } | null | { error: string } {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) return { error: 'window must be an object' };
  const w = value as Record<string, unknown>;
  const isDay = (v: unknown): v is string =>
    typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) && partitionDate(`dt=${v}`) === v;
  if (w.days !== undefined) {
    if (typeof w.days !== 'number' || !Number.isInteger(w.days) || w.days < 1 || w.days > 3650) {
      return { error: 'window.days must be a whole number of days from 1 to 3650' };
    }
    const end = new Date(asOf).getTime();
    return { from: day(end - (w.days - 1) * DAY_MS), to: day(end) };
  }
  if (!isDay(w.from) || !isDay(w.to)) return { error: 'window needs from and to as YYYY-MM-DD, or days' };
  if (w.from > w.to) return { error: `window.from ${w.from} is after window.to ${w.to}` };
  return { from: w.from, to: w.to };
}

import { parseExposition, select, sum } from '../../test/helpers/exposition';

/**
 * A worker's Temporal SDK histograms, read from its Prometheus endpoint
 * (CTLOOP_WORKER_METRICS, docs/metrics.md): what a benchmark phase cost the
 * worker itself, apart from the server and the network.
 */

/** Cumulative counts by upper bound (ms), as Prometheus serves them, summed over the matching series. */
export interface Histogram {
  readonly count: number;
  readonly sumMs: number;
  readonly buckets: ReadonlyMap<number, number>;
}

/** Reads histogram `name` (without `_bucket`) from a /metrics page, summing the series whose labels include `labels`. */
export async function scrapeHistogram(
  url: string,
  name: string,
  labels: Record<string, string>,
): Promise<Histogram> {
  const metrics = parseExposition(await (await fetch(url)).text());
  const buckets = new Map<number, number>();
  for (const s of select(metrics, `${name}_bucket`, labels)) {
    const le = s.labels.le;
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + s.value);
  }
  return {
    count: sum(select(metrics, `${name}_count`, labels)),
    sumMs: sum(select(metrics, `${name}_sum`, labels)),
    buckets,
  };
}

/** What was added between two readings of the same histogram. */
export function histogramDelta(before: Histogram, after: Histogram): Histogram {
  const buckets = new Map<number, number>();
  for (const [bound, n] of after.buckets) buckets.set(bound, n - (before.buckets.get(bound) ?? 0));
  return { count: after.count - before.count, sumMs: after.sumMs - before.sumMs, buckets };
}

export interface HistogramSummary {
  readonly n: number;
  readonly meanMs: number | null;
  /** The smallest bucket bound that holds at least half / 99 % of the observations (an upper bound on the quantile). */
  readonly p50AtMostMs: number | null;
  readonly p99AtMostMs: number | null;
  /** Share of observations at or under each bound. */
  readonly shareAtMost: Record<string, number>;
}

export function summarizeHistogram(
  h: Histogram,
  bounds: readonly number[] = [10, 20, 50, 100],
): HistogramSummary {
  const sorted = [...h.buckets.entries()].sort((a, b) => a[0] - b[0]);
  const quantileBound = (q: number) => {
    if (h.count === 0) return null;
    const hit = sorted.find(([, n]) => n >= q * h.count);
    return hit === undefined || !Number.isFinite(hit[0]) ? null : hit[0];
  };
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n: h.count,
    meanMs: h.count === 0 ? null : Math.round((h.sumMs / h.count) * 100) / 100,
    p50AtMostMs: quantileBound(0.5),
    p99AtMostMs: quantileBound(0.99),
    shareAtMost: Object.fromEntries(
      bounds.map((b) => [`${b}ms`, h.count === 0 ? 0 : round((h.buckets.get(b) ?? Number.NaN) / h.count)]),
    ),
  };
}

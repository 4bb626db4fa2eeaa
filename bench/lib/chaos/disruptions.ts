/**
 * Watching the API while something it depends on is down: how each process
 * answers (status, error code, how long it took), and how long after the
 * dependency returns it is healthy again.
 */

export interface ProbeSummary {
  readonly probes: number;
  /** `<status> <code>` → count, e.g. `503 database_unavailable`. */
  readonly answers: Record<string, number>;
  readonly maxMs: number;
  readonly medianMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function probeOnce(url: string, token: string): Promise<{ what: string; ms: number }> {
  const started = Date.now();
  try {
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let code = '';
    try {
      const body = JSON.parse(text);
      code = body?.error?.code ?? body?.status ?? '';
    } catch {
      // not JSON
    }
    return { what: `${res.status} ${code}`.trim(), ms: Date.now() - started };
  } catch (err) {
    return { what: (err as Error).name === 'TimeoutError' ? 'timeout' : 'network', ms: Date.now() - started };
  }
}

/** Probes each path on each API every second until `stop()` resolves. */
export async function probeWhile(
  apiUrls: readonly string[],
  paths: readonly string[],
  token: string,
  stop: Promise<void>,
): Promise<Record<string, ProbeSummary>> {
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  const samples = new Map<string, { what: string; ms: number }[]>();
  await Promise.all(
    apiUrls.flatMap((base) =>
      paths.map(async (p) => {
        while (!stopped) {
          const s = await probeOnce(new URL(p, base).toString(), token);
          if (!samples.has(p)) samples.set(p, []);
          samples.get(p)!.push(s);
          await sleep(1_000);
        }
      }),
    ),
  );
  const out: Record<string, ProbeSummary> = {};
  for (const [p, xs] of samples) {
    const answers: Record<string, number> = {};
    for (const x of xs) answers[x.what] = (answers[x.what] ?? 0) + 1;
    out[p] = {
      probes: xs.length,
      answers,
      maxMs: Math.max(...xs.map((x) => x.ms)),
      medianMs: median(xs.map((x) => x.ms)),
    };
  }
  return out;
}

/** Seconds until every API answers `/healthz` with 200 (null if not within `timeoutMs`). */
export async function secondsUntilHealthy(
  apiUrls: readonly string[],
  timeoutMs = 180_000,
): Promise<number | null> {
  const started = Date.now();
  const healthy = new Set<string>();
  while (Date.now() - started < timeoutMs) {
    for (const base of apiUrls) {
      if (healthy.has(base)) continue;
      const { what } = await probeOnce(new URL('/healthz', base).toString(), '');
      if (what.startsWith('200')) healthy.add(base);
    }
    if (healthy.size === apiUrls.length) return (Date.now() - started) / 1000;
    await sleep(200);
  }
  return null;
}

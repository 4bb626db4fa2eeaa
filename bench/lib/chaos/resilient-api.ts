import { type Api, type ApiCall, type ApiResponse, both } from '../../../api/client';
import { apiClient } from '../../../api/typed-client';

/**
 * What the soak's clients saw go wrong, by phase (normal, a Temporal restart,
 * the Postgres outage) and by kind: `network` (connection refused or reset:
 * a killed API process), `timeout`, or the HTTP status and error code, per
 * route. A 5xx other than 503 is a server error the API should not give.
 */
export class ErrorTally {
  phase = 'normal';
  readonly counts: Record<string, Record<string, number>> = {};
  /** Answers that took longer than `slowMs`, by phase. */
  readonly slow: Record<string, number> = {};
  constructor(readonly slowMs = 5_000) {}

  add(what: string): void {
    this.counts[this.phase] ??= {};
    const phase = this.counts[this.phase]!;
    phase[what] = (phase[what] ?? 0) + 1;
  }

  addSlow(): void {
    this.slow[this.phase] = (this.slow[this.phase] ?? 0) + 1;
  }

  /**
   * Server errors and timeouts, all phases together: every 5xx but 503 (unavailable, as the API
   * should say while a dependency is down) and the gateway's 502 `model_error` (a fault the soak
   * injected into a candidate on purpose).
   */
  serverErrors(): number {
    let n = 0;
    for (const phase of Object.values(this.counts)) {
      for (const [what, count] of Object.entries(phase)) {
        if (/^(5\d\d|timeout)/.test(what) && !/^(503|502 model_error) /.test(what)) n += count;
      }
    }
    return n;
  }
}

/** `/v1/models/fraud/runs/abc/approve` → `/v1/models/:model/runs/:runId/approve` */
export function routeOf(path: string): string {
  return path
    .split('?')[0]!
    .replace(/^\/v1\/models\/[^/]+/, '/v1/models/:model')
    .replace(/\/runs\/[^/]+/, '/runs/:runId')
    .replace(/\/versions\/[^/]+/, '/versions/:version');
}

const RETRIED_STATUSES = new Set([500, 503, 504]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * An API client over several API processes, as a load balancer with retries
 * would be: each call goes to the next process; a refused connection, a
 * timeout or a 500/503/504 is retried on another one with backoff, until
 * `deadlineMs`. Other answers (4xx, the gateway's 502 for an injected fault)
 * go back to the caller. Everything that went wrong lands in the tally.
 */
export function resilientApi(
  urls: readonly string[],
  token: string,
  tally: ErrorTally,
  opts: { deadlineMs?: number; requestTimeoutMs?: number } = {},
): Api {
  const call = resilientCall(urls, token, tally, opts);
  // The typed client's requests travel through the same retries and tally.
  const typed = apiClient({
    async request(input: string, init?: RequestInit) {
      const url = new URL(input);
      const text = typeof init?.body === 'string' ? init.body : undefined;
      const res = await call(
        init?.method ?? 'GET',
        url.pathname + url.search,
        text ? JSON.parse(text) : undefined,
      );
      return new Response(res.body === null ? null : JSON.stringify(res.body), {
        status: res.status,
        headers: { 'content-type': 'application/json' },
      });
    },
  });
  return both(call, typed);
}

function resilientCall(
  urls: readonly string[],
  token: string,
  tally: ErrorTally,
  opts: { deadlineMs?: number; requestTimeoutMs?: number },
): ApiCall {
  const deadlineMs = opts.deadlineMs ?? 240_000;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  let next = 0;
  return async <T>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> => {
    const deadline = Date.now() + deadlineMs;
    let backoff = 200;
    let last = '';
    for (;;) {
      const url = urls[next++ % urls.length]!;
      const started = Date.now();
      try {
        const res = await fetch(new URL(path, url), {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(requestTimeoutMs),
        });
        const text = await res.text();
        if (Date.now() - started > tally.slowMs) tally.addSlow();
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch {
          // not JSON: keep the text
        }
        if (res.status >= 500) {
          const code = (parsed as { error?: { code?: string } } | null)?.error?.code ?? '';
          tally.add(`${res.status} ${code} ${method} ${routeOf(path)}`.replace(/ +/g, ' '));
        }
        if (!RETRIED_STATUSES.has(res.status)) return { status: res.status, body: parsed as T };
        last = `HTTP ${res.status} ${text.slice(0, 300)}`;
      } catch (err) {
        const timedOut = (err as Error).name === 'TimeoutError';
        tally.add(`${timedOut ? 'timeout' : 'network'} ${method} ${routeOf(path)}`);
        last = (err as Error).message;
      }
      if (Date.now() > deadline)
        throw new Error(`${method} ${path}: no answer within ${deadlineMs} ms (${last})`);
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 2_000);
    }
  };
}

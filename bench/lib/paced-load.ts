import { spawn } from 'node:child_process';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { round } from './chaos/report';
import { cpuMs } from './processes';

/**
 * A fixed offered load, open loop: `rate` requests a second, evenly spaced,
 * each due at its time whatever the server did with the ones before (wrk2's
 * and k6's constant-arrival-rate model), its latency counted from when it was
 * due, so a stalled server or a request waiting for a free connection shows
 * in the figures (no coordinated omission).
 *
 * Why not autocannon's `overallRate`: autocannon gives each connection a
 * quota per second and lets it send as fast as it can until the quota is
 * used, so "1,000/s over 20 connections" is a burst of 20 concurrent
 * connections at the start of every second and then silence; its
 * coordinated-omission correction then assumes 1 ms between a connection's
 * requests. That measures bursts at saturation, not a steady rate.
 */
export interface PacedLoadOptions {
  /** The server's origin, e.g. http://127.0.0.1:8080. */
  readonly origin: string;
  readonly headers: Record<string, string>;
  /** The i-th request (0-based, settling requests included): POSTed to `path` with `body`. */
  request(i: number): { path: string; body: string };
  /** Each answer, with its body (read only when this is given); `counted` is false while settling. */
  onResponse?(status: number, body: string, counted: boolean): void;
  /** Requests per second, evenly spaced. */
  readonly rate: number;
  /** How long the counted part lasts. */
  readonly seconds: number;
  /** Connections kept open; a request due while all are busy waits for one (and its wait counts). */
  readonly connections: number;
  /** Sent before the counted part, at the same rate, to open the connections (not counted). */
  readonly settleSeconds: number;
  readonly timeoutSeconds: number;
}

export interface PacedLoadFigures {
  readonly offeredRate: number;
  readonly requestsPerSecond: number;
  /** From when each request was due to its answer's end. */
  readonly latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  /** How late the generator itself sent requests (its own floor; it is part of every latency). */
  readonly sendLagMs: { p50: number; p99: number };
  /**
   * The seconds of the counted part that held the slowest answers (by when
   * they were due), at most 5, slowest first: whether the tail is one stall
   * or spread over the run.
   */
  readonly slowestSeconds: readonly { second: number; maxMs: number; p90Ms: number }[];
  /** The slowest 1 % of the counted answers (those at or above p99), each with the second it was due in: where the tail sits. */
  readonly slowestHundredth: readonly { second: number; ms: number }[];
  readonly sent: number;
  readonly answered: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
}

/** Runs the load in this process (for loads whose requests or answers the caller shapes). */
export async function runPacedLoad(opts: PacedLoadOptions): Promise<PacedLoadFigures> {
  const target = new URL(opts.origin);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections });
  const intervalMs = 1000 / opts.rate;
  const settle = Math.round(opts.settleSeconds * opts.rate);
  const total = settle + Math.round(opts.seconds * opts.rate);
  const latencies: number[] = [];
  /** Latencies by the second (of the counted part) in which each request was due. */
  const bySecond: number[][] = [];
  const sendLag: number[] = [];
  const counts = { answered: 0, ok: 0, non2xx: 0, errors: 0 };
  let sent = 0;
  let inFlight = 0;
  let finished: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });

  const send = (index: number, dueAt: number) => {
    const counted = index >= settle;
    const { path, body } = opts.request(index);
    const payload = Buffer.from(body);
    inFlight += 1;
    if (counted) sendLag.push(performance.now() - dueAt);
    const end = (outcome: 'ok' | 'non2xx' | 'errors') => {
      inFlight -= 1;
      if (counted) {
        if (outcome !== 'errors') counts.answered += 1;
        counts[outcome] += 1;
        const latency = performance.now() - dueAt;
        latencies.push(latency);
        const second = Math.floor((index - settle) / opts.rate);
        bySecond[second] ??= [];
        bySecond[second].push(latency);
      }
      if (sent === total && inFlight === 0) finished();
    };
    const req = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path,
        method: 'POST',
        headers: { ...opts.headers, 'content-length': String(payload.length) },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        if (opts.onResponse) res.on('data', (c: Buffer) => chunks.push(c));
        else res.resume();
        res.on('end', () => {
          opts.onResponse?.(status, Buffer.concat(chunks).toString('utf8'), counted);
          end(status >= 200 && status < 300 ? 'ok' : 'non2xx');
        });
        res.on('error', () => end('errors'));
      },
    );
    req.setTimeout(opts.timeoutSeconds * 1000, () => req.destroy(new Error('timed out')));
    req.on('error', () => end('errors'));
    req.end(payload);
  };

  const start = performance.now();
  let measuredFrom = start;
  const timer = setInterval(() => {
    const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
    while (sent < due) {
      if (sent === settle) measuredFrom = performance.now();
      send(sent, start + sent * intervalMs);
      sent += 1;
    }
    if (sent === total) clearInterval(timer);
  }, 1);
  await done;
  const measuredSeconds = (performance.now() - measuredFrom) / 1000;
  agent.destroy();

  const sorted = Float64Array.from(latencies).sort();
  const lagSorted = Float64Array.from(sendLag).sort();
  return {
    offeredRate: opts.rate,
    requestsPerSecond: round(counts.answered / measuredSeconds),
    latencyMs: {
      p50: round(quantile(sorted, 0.5)),
      p90: round(quantile(sorted, 0.9)),
      p99: round(quantile(sorted, 0.99)),
      p999: round(quantile(sorted, 0.999)),
      max: round(sorted[sorted.length - 1] ?? Number.NaN),
    },
    sendLagMs: { p50: round(quantile(lagSorted, 0.5)), p99: round(quantile(lagSorted, 0.99)) },
    slowestSeconds: bySecond
      .map((ls, second) => {
        const s = Float64Array.from(ls).sort();
        return { second, maxMs: round(s[s.length - 1]!), p90Ms: round(quantile(s, 0.9)) };
      })
      .sort((a, b) => b.maxMs - a.maxMs)
      .slice(0, 5),
    slowestHundredth: bySecond
      .flatMap((ls, second) => ls.map((ms) => ({ second, ms: round(ms) })))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, Math.ceil(latencies.length / 100)),
    sent: total - settle,
    ...counts,
  };
}

/** The nearest-rank quantile of sorted values. */
function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** One URL and body for every request: what a child process can be told on its command line. */
export type FixedPacedLoad = Omit<PacedLoadOptions, 'origin' | 'request' | 'onResponse'> & {
  readonly url: string;
  readonly body: string;
};

/**
 * The same body to one URL, the load generated by its own process
 * (bench/lib/paced-load-process.ts), so that the caller's work cannot delay
 * its sends; with the CPU time the server processes `pids` used per request
 * (the settling requests are served too, so they are counted).
 */
export async function pacedLoadWithCpu(
  load: FixedPacedLoad,
  pids: () => readonly number[],
): Promise<PacedLoadFigures & { cpuMsPerRequest: number | null }> {
  const cpu = () => {
    const each = pids().map(cpuMs);
    return each.includes(null) ? null : (each as number[]).reduce((a, b) => a + b, 0);
  };
  const before = cpu();
  const figures = await inChildProcess(load);
  const after = cpu();
  const served = figures.sent + Math.round(load.settleSeconds * load.rate);
  return {
    ...figures,
    cpuMsPerRequest: before === null || after === null ? null : round((after - before) / served),
  };
}

function inChildProcess(load: FixedPacedLoad): Promise<PacedLoadFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/lib/paced-load-process.ts', JSON.stringify(load)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`the paced load exited with ${code}`));
      try {
        resolve(JSON.parse(out) as PacedLoadFigures);
      } catch (err) {
        reject(err);
      }
    });
  });
}

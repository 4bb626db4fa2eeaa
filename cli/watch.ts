import { SingleBar } from 'cli-progress';
import { type CliConfig, CliError } from './config';
import { call } from './http';

/** What the CLI reads of a run (GET /v1/models/{model}/runs/{runId}). */
export interface RunAnswer {
  id: string;
  model: string;
  stage: string;
  outcome: string | null;
  outcomeReason: string | null;
  candidateVersion: number | null;
  startedAt: string;
  endedAt: string | null;
  reports: {
    training?: {
      step?: number;
      total?: number | null;
      stepsPerSecond?: number;
      lastCheckpoint?: { step?: number } | null;
    };
  } & Record<string, unknown>;
  live: {
    training: { preemptions: number; crashes: number; lastCheckpoint: { step: number } | null };
    approval: { waiting?: boolean; deadline?: string | null } & Record<string, unknown>;
    canary: {
      weight: number;
      paused: boolean;
      steps: readonly {
        weight: number;
        verdict: string;
        championRequests: number;
        candidateRequests: number;
      }[];
    };
    bakeEndsAt: string | null;
    held: string | null;
  } | null;
}

/**
 * The exit code a run's outcome gives `run --watch` (and scripts):
 * 0 promoted, 3 rejected (data, evaluation or approval), 4 rolled back,
 * 5 failed, 6 cancelled.
 */
export function exitCodeOf(outcome: string | null): number {
  if (outcome === 'promoted') return 0;
  if (outcome?.startsWith('rejected_')) return 3;
  if (outcome === 'rolled_back') return 4;
  if (outcome === 'cancelled') return 6;
  return 5;
}

/** One line for people: where the run is and what it waits for. */
export function describeRun(run: RunAnswer, now = Date.now()): string {
  if (run.outcome) return `${run.outcome}${run.outcomeReason ? `: ${run.outcomeReason}` : ''}`;
  const live = run.live;
  const parts = [`stage ${run.stage}`];
  const training = run.reports.training;
  if (run.stage === 'train' && training?.step !== undefined) {
    parts.push(`step ${training.step}${training.total ? `/${training.total}` : ''}`);
    if (training.stepsPerSecond) parts.push(`${training.stepsPerSecond} steps/s`);
    const checkpoint = live?.training.lastCheckpoint?.step ?? training.lastCheckpoint?.step;
    if (checkpoint !== undefined) parts.push(`checkpoint at ${checkpoint}`);
  }
  if (live && live.training.preemptions > 0) parts.push(`${live.training.preemptions} preemption(s)`);
  if (run.stage === 'approve' && live?.approval.deadline)
    parts.push(`waiting for approval until ${live.approval.deadline}`);
  if (run.stage === 'canary' && live) {
    const step = live.canary.steps.at(-1);
    parts.push(`candidate gets ${live.canary.weight} % of traffic`);
    if (step)
      parts.push(
        `last step ${step.weight} %: ${step.verdict} (${step.candidateRequests} candidate / ${step.championRequests} champion requests)`,
      );
    if (live.canary.paused) parts.push('paused');
  }
  if (run.stage === 'bake' && live?.bakeEndsAt) {
    const left = Math.max(0, Date.parse(live.bakeEndsAt) - now);
    parts.push(`bake ends in ${formatDuration(left)}`);
  }
  if (live?.held) parts.push(`holding ${live.held} (model frozen)`);
  return parts.join(', ');
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}

/**
 * Follows a run until it ends: a line whenever what people see changes (on a
 * terminal, a progress bar while it trains), or with `json` one JSON line
 * per change. Resolves with the run as it ended.
 */
export async function watchRun(
  config: CliConfig,
  model: string,
  runId: string,
  opts: {
    json: boolean;
    intervalMs?: number;
    appearWithinMs?: number;
    /** How long the API may be away before the watch gives up (default 10 min). */
    outageToleranceMs?: number;
    out?: NodeJS.WriteStream;
  },
): Promise<RunAnswer> {
  const out = opts.out ?? process.stdout;
  const path = `/models/${encodeURIComponent(model)}/runs/${encodeURIComponent(runId)}`;
  const tty = !opts.json && out.isTTY === true;
  let bar: SingleBar | null = null;
  let last = '';
  // A run just triggered has its record a moment after the trigger's answer.
  const appearBy = Date.now() + (opts.appearWithinMs ?? 30_000);
  // A watch may last days (a bake): an API restart or outage is waited out, not the end of it.
  let downSince: number | null = null;
  const say = (status: string) =>
    out.write(
      opts.json
        ? `${JSON.stringify({ at: new Date().toISOString(), status })}\n`
        : `${new Date().toISOString().slice(11, 19)}  ${status}\n`,
    );
  for (;;) {
    let run: RunAnswer;
    try {
      run = await call<RunAnswer>(config, 'GET', path);
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      if (err.status === 404 && Date.now() < appearBy) {
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      const unavailable = err.status === undefined || err.status >= 500;
      if (!unavailable || Date.now() - (downSince ?? Date.now()) > (opts.outageToleranceMs ?? 600_000))
        throw err;
      if (downSince === null) {
        downSince = Date.now();
        say(`API unavailable (${err.message}); still watching`);
      }
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    if (downSince !== null) {
      say(`API back after ${formatDuration(Date.now() - downSince)}`);
      downSince = null;
    }
    const training = run.reports.training;
    if (tty && run.stage === 'train' && training?.total) {
      bar ??= new SingleBar({
        format:
          'training [{bar}] {value}/{total} steps, {rate} steps/s, checkpoint {checkpoint}, preemptions {preemptions}',
        stream: out,
      });
      const values = {
        rate: training.stepsPerSecond ?? 0,
        checkpoint: run.live?.training.lastCheckpoint?.step ?? '–',
        preemptions: run.live?.training.preemptions ?? 0,
      };
      if (!bar.isActive) bar.start(training.total, training.step ?? 0, values);
      else bar.update(training.step ?? 0, values);
    } else if (bar?.isActive) {
      bar.stop();
    }
    const line = describeRun(run);
    if (line !== last && !bar?.isActive) {
      out.write(
        opts.json
          ? `${JSON.stringify({ at: new Date().toISOString(), stage: run.stage, outcome: run.outcome, status: line })}\n`
          : `${new Date().toISOString().slice(11, 19)}  ${line}\n`,
      );
      last = line;
    }
    if (run.outcome) return run;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000));
  }
}

import type pg from 'pg';
import { median } from './disruptions';
import type { UnpromptedExit } from './process-pool';
import { type DrivenRun, RUN_KINDS } from './scenarios';

/** The soak's figures, from the registry and from what the driver and the supervisor saw. */

export const round = (x: number) => Math.round(x * 100) / 100;

/**
 * Outcomes and fates as the registry counts them, and for each fault the
 * seconds from its end (`upAt`) to the first run that ended afterwards.
 */
export async function registryFigures(db: pg.Client, faults: Record<string, unknown>[]) {
  const count = async (column: string, table: string) =>
    Object.fromEntries(
      (
        await db.query(`select ${column} as k, count(*)::int as n from ${table} group by 1 order by 1`)
      ).rows.map((r) => [r.k ?? 'none', r.n as number]),
    );
  const outcomes = await count('outcome', 'runs');
  const fates = await count('fate', 'triggers');
  for (const fault of faults) {
    const row = (
      await db.query(
        'select extract(epoch from min(ended_at) - $1::timestamptz)::float as s from runs where ended_at > $1',
        [fault.upAt],
      )
    ).rows[0];
    fault.firstRunEndedSecondsAfterReturn = typeof row?.s === 'number' ? round(row.s) : null;
  }
  return { outcomes, fates };
}

/** Runs by kind: what each kind was meant to end in, what it did, and the ones that did otherwise. */
export function runFigures(runs: readonly DrivenRun[], outcomes: Record<string, number>, models: number) {
  const byKind: Record<string, { expected: string | null; runs: number; outcomes: Record<string, number> }> =
    {};
  for (const r of runs) {
    byKind[r.kind] ??= { expected: r.expected, runs: 0, outcomes: {} };
    const k = byKind[r.kind]!;
    k.runs += 1;
    const o = r.outcome ?? (r.stuck ? 'stuck' : 'unknown');
    k.outcomes[o] = (k.outcomes[o] ?? 0) + 1;
  }
  return {
    total: Object.values(outcomes).reduce((a, b) => a + b, 0),
    models,
    byOutcome: outcomes,
    everyOutcomeKind: [...new Set(Object.values(RUN_KINDS))].every((o) => (outcomes[o] ?? 0) > 0),
    byKind,
    unexpected: runs
      .filter((r) => r.expected && r.outcome !== r.expected)
      .slice(0, 20)
      .map((r) => ({ model: r.model, runId: r.runId, kind: r.kind, outcome: r.outcome, reason: r.reason })),
    stuck: runs.filter((r) => r.stuck).map((r) => ({ model: r.model, runId: r.runId, kind: r.kind })),
    medianSeconds: round(median(runs.filter((r) => r.outcome).map((r) => r.seconds))),
  };
}

export interface Kill {
  readonly at: string;
  readonly process: string;
  restartSeconds: number | null;
}

export function processFigures(
  kills: readonly Kill[],
  unpromptedExits: readonly UnpromptedExit[],
  startupSeconds: number,
) {
  const restartTimes = kills.flatMap((k) => (k.restartSeconds === null ? [] : [k.restartSeconds]));
  const killedByRole: Record<string, number> = {};
  for (const k of kills) {
    const role = k.process.replace(/-\d+$/, '');
    killedByRole[role] = (killedByRole[role] ?? 0) + 1;
  }
  return {
    startupSeconds: round(startupSeconds),
    kills: kills.length,
    killedByRole,
    restartSeconds: {
      median: round(median(restartTimes)),
      max: restartTimes.length ? Math.max(...restartTimes) : null,
    },
    unpromptedExits: unpromptedExits.map((e) => ({ ...e, logTail: e.logTail.slice(-1_200) })),
    killLog: kills,
  };
}

/**
 * The chaos soak's small variant (bench/lib/chaos/soak.ts, CI_SOAK): two API
 * processes, two control and two training workers on a Postgres and a
 * Temporal dev server of its own; every kind of run on four models while
 * processes are killed with -9 every 15–25 s (at least four kills, runs go
 * on until then), Temporal restarts once and Postgres goes away for 10 s. What a user relies on must hold afterwards.
 * `npm run bench -- chaos` is the full soak (200+ runs, three Temporal
 * restarts, a 30 s Postgres outage).
 */
import { describe, expect, it } from 'vitest';
import { round } from '../../bench/lib/chaos/report';
import { CI_SOAK, runSoak } from '../../bench/lib/chaos/soak';

describe('chaos soak', () => {
  it('every trigger has a fate, every run one outcome, nothing twice, and the champion is served after kills, a Temporal restart and a Postgres outage', async () => {
    const startedAt = Date.now();
    const result = await runSoak(CI_SOAK, () => {});
    console.info(
      JSON.stringify({
        chaosSoak: {
          minutes: round((Date.now() - startedAt) / 60_000),
          runs: result.runs.total,
          byOutcome: result.runs.byOutcome,
          kills: result.processes.kills,
          restartSeconds: result.processes.restartSeconds,
          temporalRestarts: result.temporalRestarts.map((r) => r.apisHealthySecondsAfterReturn),
          postgresOutages: result.postgresOutages.map((r) => r.apisHealthySecondsAfterReturn),
          triggers: result.triggers.byFate,
          invariants: Object.fromEntries(
            Object.entries(result.invariants).map(([k, v]) => [k, `${v.violations}/${v.checked}`]),
          ),
        },
      }),
    );
    const summary = JSON.stringify(
      { invariants: result.invariants, runs: result.runs, exits: result.processes.unpromptedExits },
      null,
      2,
    );

    for (const [name, verdict] of Object.entries(result.invariants)) {
      expect(verdict.ok, `${name}: ${JSON.stringify(verdict.examples)}`).toBe(true);
      expect(verdict.checked, name).toBeGreaterThan(0);
    }
    expect(result.driverErrors).toEqual([]);
    expect(result.runs.stuck, summary).toEqual([]);
    // Every kind of ending happened, and under fire.
    expect(result.runs.total).toBeGreaterThanOrEqual(CI_SOAK.runs);
    expect(result.runs.everyOutcomeKind, summary).toBe(true);
    expect(result.processes.kills).toBeGreaterThanOrEqual(CI_SOAK.minKills ?? 1);
    expect(result.processes.kills).toBe(
      result.processes.killLog.filter((k) => k.restartSeconds !== null).length,
    );
    expect(result.temporalRestarts).toHaveLength(CI_SOAK.temporalRestarts);
    expect(result.postgresOutages).toHaveLength(1);
    for (const restart of [...result.temporalRestarts, ...result.postgresOutages]) {
      expect(restart.apisHealthySecondsAfterReturn, JSON.stringify(restart)).not.toBeNull();
    }
    expect(result.ok).toBe(true);
    // 3 to 8 minutes on a 2-core machine; a shared one can be several times slower.
  }, 1_800_000);
});

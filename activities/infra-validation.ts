import { Context } from '@temporalio/activity';
import { parseCsv } from '../domain/csv';
import { splitHoldout } from '../domain/data-validation';
import type { DataSchema } from '../domain/policy';
import { isServableModel, predictServable } from '../domain/servable-model';
import { readDataText } from '../storage/artifact-store';
import type { ActivityDeps } from './deps';

/** What infra-validation saw: the load, and the smoke requests' answers and latencies. */
export interface InfraValidationReport {
  readonly ok: boolean;
  /** Why not, in the server's words where it gave them. */
  readonly reason: string | null;
  readonly server: string | null;
  readonly loadMs: number | null;
  readonly smoke: {
    readonly requests: number;
    /** Largest |server − ctloop| over the answers. */
    readonly maxAbsDifference: number;
    readonly latencyMsP50: number;
    readonly latencyMsMax: number;
  } | null;
}

/** Server and ctloop compute in double precision; summation order may differ in the last bits. */
const TOLERANCE = 1e-9;

export function createInfraValidationActivities(deps: ActivityDeps) {
  return {
    /**
     * Loads a candidate in the external V2 model server and sends it smoke
     * requests from the hold-out set, one at a time, as the gateway will;
     * each answer must equal what ctloop computes from the same artifact.
     * Runs before any traffic reaches the candidate: a version the server
     * cannot load or answer for never enters the canary.
     */
    async validateOnServer(input: {
      model: string;
      version: number;
      artifactUri: string;
      dataUri: string;
      schema: DataSchema;
      holdoutFraction: number;
      requests: number;
    }): Promise<InfraValidationReport> {
      const v2 = deps.v2Server;
      const failed = (reason: string, loadMs: number | null = null): InfraValidationReport => ({
        ok: false,
        reason,
        server: v2?.url ?? null,
        loadMs,
        smoke: null,
      });
      if (!v2) {
        return failed(
          'the policy serves this model from a V2 server, but none is configured (CTLOOP_V2_URL, CTLOOP_V2_REPOSITORY)',
        );
      }
      const artifact: unknown = JSON.parse((await deps.artifacts.get(input.artifactUri)).toString('utf8'));
      if (!isServableModel(artifact)) return failed(`artifact ${input.artifactUri} is not a servable model`);

      const loadStarted = performance.now();
      try {
        await v2.load(input.model, input.version, artifact);
      } catch (err) {
        return failed(
          `v${input.version} did not load: ${(err as Error).message}`,
          performance.now() - loadStarted,
        );
      }
      const loadMs = performance.now() - loadStarted;

      const table = parseCsv(await readDataText(deps.artifacts, input.dataUri));
      const { holdout } = splitHoldout(table.rows, input.holdoutFraction);
      const index = artifact.features.map((f) => table.columns.indexOf(f));
      const rows = holdout.slice(0, input.requests).map((r) =>
        index.map((j) => {
          const cell = j < 0 ? '' : (r[j] ?? '');
          return cell === '' ? null : Number(cell);
        }),
      );
      const latencies: number[] = [];
      let maxAbsDifference = 0;
      for (const [i, row] of rows.entries()) {
        Context.current().heartbeat({ smoke: i });
        const started = performance.now();
        let answer: number;
        try {
          [answer = Number.NaN] = await v2.infer(input.model, input.version, [row]);
        } catch (err) {
          return failed(`v${input.version} failed smoke request ${i + 1}: ${(err as Error).message}`, loadMs);
        }
        latencies.push(performance.now() - started);
        const expected = predictServable(artifact, row);
        const difference = Math.abs(answer - expected);
        if (!(difference <= TOLERANCE)) {
          return failed(
            `v${input.version} answered ${answer} to smoke request ${i + 1}, ctloop computes ${expected}`,
            loadMs,
          );
        }
        maxAbsDifference = Math.max(maxAbsDifference, difference);
      }
      latencies.sort((a, b) => a - b);
      return {
        ok: true,
        reason: null,
        server: v2.url,
        loadMs,
        smoke: {
          requests: rows.length,
          maxAbsDifference,
          latencyMsP50: latencies[Math.floor((latencies.length - 1) / 2)] ?? 0,
          latencyMsMax: latencies.at(-1) ?? 0,
        },
      };
    },
  };
}

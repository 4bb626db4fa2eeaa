import { runDatasetTask } from '../compute/dataset-threads';
import type { DatasetPhase } from '../compute/dataset-work';
import type { DataValidationReport } from '../domain/data-validation';
import type { DataSchema, ValidationPolicy } from '../domain/policy';
import { readDataText } from '../storage/artifact-store';
import type { ActivityDeps } from './deps';
import { heartbeatWhile } from './heartbeats';

export interface ValidationOutcome {
  readonly ok: boolean;
  readonly summary: string;
  readonly dataHash: string;
  readonly report: DataValidationReport | null;
}

export function createValidationActivities({ artifacts }: ActivityDeps) {
  return {
    /**
     * Checks new data against the model's declared schema; a bad dataset is a
     * result, not an error. Parsing and checking run on a thread of their own
     * (compute/dataset-threads) while the activity heartbeats its phase.
     */
    async validateData(input: {
      dataUri: string;
      schema: DataSchema;
      rules: ValidationPolicy;
    }): Promise<ValidationOutcome> {
      let phase: DatasetPhase | 'reading' = 'reading';
      return heartbeatWhile(
        () => ({ phase }),
        (signal) =>
          validate(input, signal, (p) => {
            phase = p;
          }),
      );
    },
  };

  async function validate(
    input: { dataUri: string; schema: DataSchema; rules: ValidationPolicy },
    signal: AbortSignal | undefined,
    onPhase: (phase: DatasetPhase) => void,
  ): Promise<ValidationOutcome> {
    let text: string;
    try {
      text = await readDataText(artifacts, input.dataUri);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
        return {
          ok: false,
          summary: `data not readable at ${input.dataUri} (${code})`,
          dataHash: '',
          report: null,
        };
      }
      throw err; // transient (e.g. store unavailable): let Temporal retry
    }
    const { dataHash, report, problem } = await runDatasetTask(
      { kind: 'validate', text, schema: input.schema, rules: input.rules },
      { onPhase, signal },
    );
    if (!report) return { ok: false, summary: problem ?? 'data is not valid CSV', dataHash, report: null };
    const failed = report.checks.filter((c) => !c.ok);
    const summary = report.ok
      ? `${report.rows} rows pass ${report.checks.length} checks`
      : failed.map((c) => c.message).join('; ');
    return { ok: report.ok, summary, dataHash, report };
  }
}

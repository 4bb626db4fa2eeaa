import { parseCsv } from '../domain/csv';
import { type DataValidationReport, validateDataset } from '../domain/data-validation';
import type { DataSchema, ValidationPolicy } from '../domain/policy';
import { readDataText, sha256 } from '../storage/artifact-store';
import type { ActivityDeps } from './deps';

export interface ValidationOutcome {
  readonly ok: boolean;
  readonly summary: string;
  readonly dataHash: string;
  readonly report: DataValidationReport | null;
}

export function createValidationActivities({ artifacts }: ActivityDeps) {
  return {
    /** Checks new data against the model's declared schema; a bad dataset is a result, not an error. */
    async validateData(input: {
      dataUri: string;
      schema: DataSchema;
      rules: ValidationPolicy;
    }): Promise<ValidationOutcome> {
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
      const dataHash = sha256(text);
      let report: DataValidationReport;
      try {
        report = validateDataset(parseCsv(text), input.schema, input.rules);
      } catch (err) {
        return {
          ok: false,
          summary: `data is not valid CSV: ${(err as Error).message}`,
          dataHash,
          report: null,
        };
      }
      const failed = report.checks.filter((c) => !c.ok);
      const summary = report.ok
        ? `${report.rows} rows pass ${report.checks.length} checks`
        : failed.map((c) => c.message).join('; ');
      return { ok: report.ok, summary, dataHash, report };
    },
  };
}

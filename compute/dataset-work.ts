/**
 * The CPU-heavy part of the validation and evaluation activities, as pure
 * functions of the dataset's text: parsing, checks, scoring both models on
 * the hold-out rows and the evaluation gate. compute/dataset-thread runs them
 * off the worker's event loop; they import no ESM-only package (see
 * ./start-thread).
 */
import { parseCsv } from '../domain/csv';
import {
  type DataValidationReport,
  splitHoldout,
  toMatrix,
  validateDataset,
} from '../domain/data-validation';
import { type EvaluationGateResult, evaluationGate } from '../domain/evaluation/gate';
import { type ClassificationMetrics, classificationMetrics } from '../domain/metrics';
import type { DataSchema, EvaluationPolicy, ValidationPolicy } from '../domain/policy';
import { predictServable, type ServableModel } from '../domain/servable-model';
import { sha256 } from '../storage/atomic-file';

export type DatasetTask =
  | {
      readonly kind: 'validate';
      readonly text: string;
      readonly schema: DataSchema;
      readonly rules: ValidationPolicy;
    }
  | {
      readonly kind: 'evaluate';
      readonly text: string;
      readonly schema: DataSchema;
      readonly holdoutFraction: number;
      readonly policy: EvaluationPolicy;
      readonly candidate: ServableModel;
      readonly champion: ServableModel | null;
    };

export interface ValidatedText {
  readonly dataHash: string;
  /** Null when the text is not a CSV table the checks can read; `problem` says why. */
  readonly report: DataValidationReport | null;
  readonly problem: string | null;
}

export interface ScoredHoldout {
  readonly holdoutRows: number;
  readonly candidate: ClassificationMetrics;
  readonly champion: ClassificationMetrics | null;
  readonly gate: EvaluationGateResult;
}

/** A failure that retrying cannot fix (the policy and the data disagree). */
export class DatasetProblem extends Error {
  override readonly name = 'DatasetProblem';
}

/** Which step a task is in, for the activity's heartbeat. */
export type DatasetPhase = 'hashing' | 'parsing' | 'checking' | 'scoring' | 'gate';

export function validateText(
  task: Extract<DatasetTask, { kind: 'validate' }>,
  phase: (p: DatasetPhase) => void = () => {},
): ValidatedText {
  phase('hashing');
  const dataHash = sha256(task.text);
  try {
    phase('parsing');
    const table = parseCsv(task.text);
    phase('checking');
    return { dataHash, report: validateDataset(table, task.schema, task.rules), problem: null };
  } catch (err) {
    return { dataHash, report: null, problem: `data is not valid CSV: ${(err as Error).message}` };
  }
}

export function scoreHoldout(
  task: Extract<DatasetTask, { kind: 'evaluate' }>,
  phase: (p: DatasetPhase) => void = () => {},
): ScoredHoldout {
  phase('parsing');
  const table = parseCsv(task.text);
  const { X, y } = toMatrix(table, task.schema);
  const holdoutX = splitHoldout(X, task.holdoutFraction).holdout;
  const holdoutY = splitHoldout(y, task.holdoutFraction).holdout;
  const segments = sliceColumn(table, task.policy.slices?.column, task.holdoutFraction);
  phase('scoring');
  const scores = (m: ServableModel) => holdoutX.map((row) => predictServable(m, row));
  const candidateScores = scores(task.candidate);
  const championScores = task.champion === null ? null : scores(task.champion);
  phase('gate');
  const gate = evaluationGate({
    yTrue: holdoutY,
    candidate: candidateScores,
    champion: championScores,
    segments,
    policy: task.policy,
  });
  return {
    holdoutRows: holdoutY.length,
    candidate: classificationMetrics(holdoutY, candidateScores, task.policy.threshold),
    champion: championScores && classificationMetrics(holdoutY, championScores, task.policy.threshold),
    gate,
  };
}

/** The hold-out rows' values of the policy's segment column, when it names one. */
function sliceColumn(
  table: ReturnType<typeof parseCsv>,
  column: string | undefined,
  holdoutFraction: number,
): Record<string, string[]> | undefined {
  if (!column) return undefined;
  const index = table.columns.indexOf(column);
  if (index < 0) {
    throw new DatasetProblem(`the policy slices by column ${column}, which the data does not have`);
  }
  return { [column]: splitHoldout(table.rows, holdoutFraction).holdout.map((row) => row[index] ?? '') };
}

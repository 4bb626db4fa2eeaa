import type { DriftPolicy } from '../domain/drift/policy';
import type { ReferenceSketch } from '../domain/drift/reference-sketch';
import type { ColumnarData, DriftFeature, MeasuredFeature } from '../domain/drift/report';

/** What the main thread asks a drift thread to do. */
export type ThreadTask =
  | {
      readonly id: number;
      readonly kind: 'parse';
      readonly bytes: Uint8Array;
      readonly features: readonly DriftFeature[];
    }
  | {
      readonly id: number;
      readonly kind: 'measure';
      /** The features of this group, with their place in the report. */
      readonly features: readonly { readonly feature: DriftFeature; readonly index: number }[];
      readonly reference: ColumnarData;
      readonly current: ColumnarData;
      readonly policy: DriftPolicy;
    }
  | {
      readonly id: number;
      readonly kind: 'measure-sketched-parquet';
      /** A local Parquet file, read `group` columns at a time. */
      readonly file: string;
      readonly group: number;
      readonly features: readonly { readonly feature: DriftFeature; readonly index: number }[];
      /** The sketch of these features only. */
      readonly sketch: ReferenceSketch;
      readonly policy: DriftPolicy;
    };

export type ThreadReply =
  | { readonly id: number; readonly ok: true; readonly columns: ColumnarData }
  | { readonly id: number; readonly ok: true; readonly measured: readonly MeasuredFeature[] }
  | {
      readonly id: number;
      readonly ok: false;
      readonly message: string;
      /** The feature whose measurement failed (the first of its group that did). */
      readonly featureIndex?: number;
    };

/**
 * The buffers of these numeric columns that can move to another thread
 * without copying: a column that is its buffer's only view, whole. Any other
 * (a view into a buffer other columns share) is copied by structured clone.
 */
export function columnBuffers(...sets: readonly ColumnarData[]): ArrayBuffer[] {
  const views = new Map<ArrayBufferLike, number>();
  const whole = new Set<ArrayBufferLike>();
  for (const columns of sets) {
    for (const values of Object.values(columns)) {
      if (!(values instanceof Float64Array)) continue;
      views.set(values.buffer, (views.get(values.buffer) ?? 0) + 1);
      if (values.byteOffset === 0 && values.byteLength === values.buffer.byteLength) whole.add(values.buffer);
    }
  }
  return [...whole].filter(
    (buffer): buffer is ArrayBuffer => views.get(buffer) === 1 && buffer instanceof ArrayBuffer,
  );
}

import { type AsyncBuffer, type FileMetaData, parquetMetadata, parquetRead } from 'hyparquet';
import type { ColumnarData, DriftFeature } from './report';

/**
 * Reads the drift report's columns out of a Parquet file held in memory,
 * with hyparquet (pure JavaScript; uncompressed and Snappy pages, which is
 * what pandas / pyarrow write by default). Only the features' columns are
 * decoded. Numeric features become Float64Arrays (null is NaN; integers,
 * including 64-bit ones, are converted to the nearest double; booleans are
 * 0 / 1), categorical ones their values as text (null stays null), so that a
 * category written as the number 2 and one read from CSV as "2" are the same.
 *
 * @throws {Error} `parquetColumns: ...` when the file lacks a feature or a
 * numeric feature's column holds text; hyparquet's own error for a file it
 * cannot decode (e.g. an unsupported compression codec)
 * @example
 * await parquetColumns(bytes, [{ name: 'age', kind: 'numeric' }]); // => { age: Float64Array [...] }
 */
export async function parquetColumns(
  bytes: Uint8Array,
  features: readonly DriftFeature[],
): Promise<ColumnarData> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return parquetColumnsOf(file, parquetMetadata(file), features);
}

/**
 * `parquetColumns` of a file read through an AsyncBuffer (hyparquet's
 * `asyncBufferFromFile` reads only the byte ranges of the wanted columns),
 * with its metadata already read: a wide file is read a few columns at a
 * time, in bounded memory, by calling this once per group of features.
 */
export async function parquetColumnsOf(
  file: AsyncBuffer,
  metadata: FileMetaData,
  features: readonly DriftFeature[],
): Promise<ColumnarData> {
  const rows = Number(metadata.num_rows);
  const present = new Set(metadata.schema.slice(1).map((element) => element.name));
  for (const f of features) {
    if (!present.has(f.name)) throw new Error(`parquetColumns: the file has no column '${f.name}'`);
  }
  const out: Record<string, Float64Array | (string | null)[]> = Object.fromEntries(
    features.map((f) => [
      f.name,
      f.kind === 'numeric'
        ? new Float64Array(rows).fill(Number.NaN)
        : new Array<string | null>(rows).fill(null),
    ]),
  );
  // hyparquet calls onChunk outside the promise it returns: an error thrown there would
  // escape as an unhandled rejection, so the first problem is kept and thrown afterwards.
  let bad: Error | undefined;
  await parquetRead({
    file,
    metadata,
    columns: features.map((f) => f.name),
    onChunk: ({ columnName, columnData, rowStart }) => {
      const target = out[columnName];
      if (target === undefined || bad) return;
      if (target instanceof Float64Array) {
        if (columnData instanceof Float64Array || columnData instanceof Float32Array) {
          target.set(columnData, rowStart);
          return;
        }
        for (let k = 0; k < columnData.length; k++) {
          const cell: unknown = columnData[k];
          const v = numberOf(cell);
          if (v === undefined) {
            bad = new Error(
              `parquetColumns: column '${columnName}' is numeric but row ${rowStart + k + 1} holds ${JSON.stringify(cell)}`,
            );
            return;
          }
          target[rowStart + k] = v;
        }
      } else {
        for (let k = 0; k < columnData.length; k++) {
          const cell: unknown = columnData[k];
          target[rowStart + k] = cell === null || cell === undefined ? null : String(cell);
        }
      }
    },
  });
  if (bad) throw bad;
  return out;
}

/** A cell as a number (null is NaN, a missing value); undefined when it is not a number at all. */
function numberOf(cell: unknown): number | undefined {
  if (cell === null || cell === undefined) return Number.NaN;
  if (typeof cell === 'number') return cell;
  if (typeof cell === 'bigint') return Number(cell);
  if (typeof cell === 'boolean') return cell ? 1 : 0;
  return undefined;
}

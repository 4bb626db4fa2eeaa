import { type FileHandle, open } from 'node:fs/promises';
import { type AsyncBuffer, parquetMetadataAsync } from 'hyparquet';
import { parquetColumnsOf } from '../domain/drift/parquet-columns';
import type { ColumnarData, DriftFeature } from '../domain/drift/report';

/**
 * A local Parquet file's feature columns, `group` features at a time, in
 * feature order: memory is bounded by one group's columns, not the file (a
 * million rows by a thousand float columns is 8 GB). Used by the drift
 * activity and its threads for a batch measured against a reference sketch.
 */
export async function* parquetFileColumnGroups(
  file: string,
  features: readonly DriftFeature[],
  group: number,
): AsyncGenerator<ColumnarData> {
  const handle = await open(file, 'r');
  try {
    const buffer = await fileAsyncBuffer(handle);
    const metadata = await parquetMetadataAsync(buffer);
    for (let from = 0; from < features.length; from += group) {
      yield await parquetColumnsOf(buffer, metadata, features.slice(from, from + group));
    }
  } finally {
    await handle.close();
  }
}

/**
 * A file as hyparquet's AsyncBuffer: each slice one positioned read into a
 * buffer of its own (hyparquet's asyncBufferFromFile opens a stream per slice
 * and concatenates 64 KB chunks, which measured ~4× slower on column chunks).
 */
async function fileAsyncBuffer(handle: FileHandle): Promise<AsyncBuffer> {
  const { size } = await handle.stat();
  return {
    byteLength: size,
    async slice(start: number, end = size) {
      const bytes = new Uint8Array(end - start);
      for (let done = 0; done < bytes.length; ) {
        const { bytesRead } = await handle.read(bytes, done, bytes.length - done, start + done);
        if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${start + done}`);
        done += bytesRead;
      }
      return bytes.buffer;
    },
  };
}

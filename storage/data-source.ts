import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { type CsvTable, parseCsv } from '../domain/csv';

/**
 * Where a model's partitioned data lives. A data source lists the files a
 * pattern names and reads one as a table; the local implementation walks the
 * filesystem, and an object store (list by prefix) or a warehouse query (one
 * partition per day) can implement the same two calls.
 */
export interface DataSource {
  /** Every file the pattern names, as URIs `read` accepts, sorted. */
  list(pattern: string): Promise<string[]>;
  /** One partition as a table: CSV (`.csv`, or anything not `.parquet`) or Parquet. */
  read(uri: string): Promise<{ table: CsvTable; bytes: Buffer }>;
}

/** `*` and `?` within one path segment, as in a shell; `**` is not supported (name the depth). */
function segmentMatcher(segment: string): RegExp {
  const escaped = segment
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${escaped}$`);
}

/** Patterns over local paths (or `file://` URIs): `data/churn/dt=*\/part-*.csv`. */
export function createLocalDataSource(opts: { maxFiles?: number } = {}): DataSource {
  const maxFiles = opts.maxFiles ?? 100_000;
  return {
    async list(pattern) {
      const plain = pattern.startsWith('file://') ? new URL(pattern).pathname : pattern;
      const absolute = path.resolve(plain);
      const segments = absolute.split(path.sep).slice(1);
      let found: string[] = [path.sep];
      for (const [i, segment] of segments.entries()) {
        const last = i === segments.length - 1;
        if (!/[*?]/.test(segment)) {
          found = found.map((dir) => path.join(dir, segment));
          continue;
        }
        const matcher = segmentMatcher(segment);
        const next: string[] = [];
        for (const dir of found) {
          let entries: import('node:fs').Dirent[];
          try {
            entries = await readdir(dir, { withFileTypes: true });
          } catch (err) {
            if (
              (err as NodeJS.ErrnoException).code === 'ENOENT' ||
              (err as NodeJS.ErrnoException).code === 'ENOTDIR'
            )
              continue;
            throw err;
          }
          for (const e of entries) {
            if (!matcher.test(e.name) || (last ? !e.isFile() : !e.isDirectory())) continue;
            next.push(path.join(dir, e.name));
            if (next.length > maxFiles)
              throw new Error(`data source ${pattern} names more than ${maxFiles} files`);
          }
        }
        found = next;
      }
      // Literal segments were not looked up: keep only the files that exist.
      const files: string[] = [];
      for (const f of found) {
        if (
          await stat(f).then(
            (s) => s.isFile(),
            () => false,
          )
        )
          files.push(f);
      }
      return files.sort();
    },
    async read(uri) {
      const file = uri.startsWith('file://') ? new URL(uri).pathname : uri;
      const bytes = await readFile(file);
      if (!file.toLowerCase().endsWith('.parquet')) return { table: parseCsv(bytes.toString('utf8')), bytes };
      return { table: await parquetTable(bytes), bytes };
    },
  };
}

/** A Parquet file as a table of text cells (numbers as JavaScript writes them; null stays empty). */
async function parquetTable(bytes: Buffer): Promise<CsvTable> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const columns = parquetMetadata(file)
    .schema.slice(1)
    .map((element) => element.name);
  const objects = await parquetReadObjects({ file, columns });
  const cell = (v: unknown): string =>
    v === null || v === undefined
      ? ''
      : typeof v === 'bigint'
        ? v.toString()
        : typeof v === 'boolean'
          ? v
            ? '1'
            : '0'
          : String(v);
  return { columns, rows: objects.map((o) => columns.map((c) => cell((o as Record<string, unknown>)[c]))) };
}

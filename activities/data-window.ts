import { Context } from '@temporalio/activity';
import { toCsv } from '../domain/csv';
import { isPartitionedSource, planWindow, type WindowPlan, windowOverride } from '../domain/data-window';
import type { DataPolicy } from '../domain/policy';
import { seededRandom } from '../domain/random';
import { sha256 } from '../storage/artifact-store';
import { createLocalDataSource, type DataSource } from '../storage/data-source';
import type { ActivityDeps } from './deps';

/** What a run trained and was judged on, kept in its record (`reports.data`) and the version's lineage. */
export interface DataWindowReport {
  readonly source: string;
  readonly asOf: string;
  /** Inclusive UTC days. */
  readonly from: string;
  readonly to: string;
  /** Set when a trigger named the window. */
  readonly override: { readonly from: string; readonly to: string } | null;
  readonly partitions: readonly {
    readonly uri: string;
    readonly date: string;
    readonly rows: number;
    /** SHA-256 of the file as read. */
    readonly sha256: string;
    readonly role: 'train' | 'holdout';
  }[];
  readonly rows: number;
  /** Rows of the newest days, held out (0 when the hold-out is the policy's holdoutFraction of the rows). */
  readonly holdoutRows: number;
  /** SHA-256 of the window as one CSV (partitions oldest first): the data the run used. */
  readonly contentHash: string;
  readonly undatedFiles: number;
  /** The rows were put in a seeded random order (data.holdout: random). */
  readonly shuffled: boolean;
}

/** Fisher–Yates with the given source. */
function shuffleInPlace<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

export type ResolvedData =
  | {
      readonly ok: true;
      /** The window, materialised in the artifact store: what validation, training and evaluation read. */
      readonly dataUri: string;
      /** The share of the rows that are the newest days' (null: keep the policy's holdoutFraction). */
      readonly holdoutFraction: number | null;
      readonly report: DataWindowReport;
    }
  | { readonly ok: false; readonly reason: string };

export function createDataWindowActivities(deps: ActivityDeps & { dataSource?: DataSource }) {
  const source = deps.dataSource ?? createLocalDataSource();
  return {
    /**
     * Resolves a run's training window over a partitioned source: lists the
     * partitions, picks those of the window (the trigger's, or the policy's
     * last windowDays up to the run's start), checks freshness, reads them
     * oldest first into one CSV in the artifact store, and records each
     * partition and the content hash. Data that cannot make a window (none in
     * range, too old, columns that differ) is a `rejected_data` answer, not a failure.
     */
    async resolveDataWindow(input: {
      model: string;
      runId: string;
      source: string;
      asOf: string;
      data: DataPolicy;
      /** The newest trigger's `details.window`, unchecked (the trigger's details are free-form). */
      window?: unknown;
    }): Promise<ResolvedData> {
      const ctx = Context.current();
      const override = windowOverride(input.window, input.asOf);
      if (override && 'error' in override) return { ok: false, reason: `the trigger's ${override.error}` };
      // One file (a random hold-out needs its rows shuffled) is a window of one undated partition.
      const plan: WindowPlan = isPartitionedSource(input.source)
        ? planWindow(await source.list(input.source), {
            asOf: input.asOf,
            windowDays: input.data.windowDays ?? null,
            holdoutDays: input.data.holdoutDays ?? null,
            maxAgeDays: input.data.maxAgeDays ?? null,
            override,
          })
        : { ok: true, from: '', to: '', train: [{ uri: input.source, date: '' }], holdout: [], undated: [] };
      if (!plan.ok) return { ok: false, reason: `${plan.reason} (source ${input.source})` };

      let columns: readonly string[] | null = null;
      const rows: (readonly string[])[] = [];
      const partitions: DataWindowReport['partitions'][number][] = [];
      let holdoutRows = 0;
      const parts = [
        ...plan.train.map((p) => ({ ...p, role: 'train' as const })),
        ...plan.holdout.map((p) => ({ ...p, role: 'holdout' as const })),
      ];
      for (const part of parts) {
        ctx.heartbeat({ reading: part.uri });
        let read: Awaited<ReturnType<DataSource['read']>>;
        try {
          read = await source.read(part.uri);
        } catch (err) {
          return { ok: false, reason: `partition ${part.uri} is not readable: ${(err as Error).message}` };
        }
        const { table } = read;
        columns ??= table.columns;
        if (table.columns.length !== columns.length || !columns.every((c) => table.columns.includes(c))) {
          return {
            ok: false,
            reason: `partition ${part.uri} has columns [${table.columns.join(', ')}], the first of the window [${columns.join(', ')}]`,
          };
        }
        // Same columns in another order: put each row in the window's order.
        const order = columns.map((c) => table.columns.indexOf(c));
        const inOrder = order.every((j, i) => j === i);
        for (const row of table.rows) rows.push(inOrder ? row : order.map((j) => row[j] ?? ''));
        if (part.role === 'holdout') holdoutRows += table.rows.length;
        partitions.push({
          uri: part.uri,
          date: part.date,
          rows: table.rows.length,
          sha256: sha256(read.bytes),
          role: part.role,
        });
      }
      if (rows.length === 0 || columns === null) {
        return {
          ok: false,
          reason: `the window ${plan.from} … ${plan.to} has no rows (source ${input.source})`,
        };
      }
      if (plan.holdout.length > 0 && holdoutRows === 0) {
        return { ok: false, reason: `the held-out days of ${plan.from} … ${plan.to} have no rows` };
      }
      // A random hold-out: the rows in a seeded random order, so that the last share is a random sample.
      const shuffled = plan.holdout.length === 0 && input.data.holdout === 'random';
      if (shuffled) shuffleInPlace(rows, seededRandom(input.data.seed));
      const stored = await deps.artifacts.put(
        `${input.model}/${input.runId}/data/window.csv`,
        toCsv(columns, rows),
      );
      return {
        ok: true,
        dataUri: stored.uri,
        holdoutFraction: plan.holdout.length > 0 ? holdoutRows / rows.length : null,
        report: {
          source: input.source,
          asOf: input.asOf,
          from: plan.from,
          to: plan.to,
          override: override ?? null,
          partitions,
          rows: rows.length,
          holdoutRows,
          contentHash: stored.sha256,
          undatedFiles: plan.undated.length,
          shuffled,
        },
      };
    },
  };
}

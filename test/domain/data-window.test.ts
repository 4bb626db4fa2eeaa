import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPartitionedSource, partitionDate, planWindow, windowOverride } from '../../domain/data-window';
import { createLocalDataSource } from '../../storage/data-source';

const days = (from: string, n: number) =>
  Array.from({ length: n }, (_, i) =>
    new Date(Date.parse(`${from}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10),
  );
const files = (dates: readonly string[]) => dates.map((d) => `/data/churn/dt=${d}/part-0.csv`);

describe('partition dates', () => {
  it('reads dt= or date= from a folder or a file name, the last one winning', () => {
    expect(partitionDate('/d/dt=2026-11-30/part-0.csv')).toBe('2026-11-30');
    expect(partitionDate('/d/events_date=2026-02-01.parquet')).toBe('2026-02-01');
    expect(partitionDate('/d/dt=2025-01-01/dt=2026-01-02/x.csv')).toBe('2026-01-02');
    expect(partitionDate('/d/dt=2026-02-30/x.csv')).toBeNull(); // no such day
    expect(partitionDate('/d/update=2026-01-01/x.csv')).toBeNull();
    expect(partitionDate('/d/x.csv')).toBeNull();
    expect(isPartitionedSource('/d/dt=*/part-*.csv')).toBe(true);
    expect(isPartitionedSource('/d/train.csv')).toBe(false);
  });
});

describe('a run’s window', () => {
  const all = files(days('2026-10-01', 67)); // 2026-10-01 … 2026-12-06
  const asOf = '2026-12-06T15:00:00Z';

  it('takes the last windowDays up to the run and holds out the newest days, oldest first', () => {
    const plan = planWindow([...all].reverse(), { asOf, windowDays: 30, holdoutDays: 7, maxAgeDays: 2 });
    if (!plan.ok) throw new Error(plan.reason);
    expect([plan.from, plan.to]).toEqual(['2026-11-07', '2026-12-06']);
    expect(plan.train.map((p) => p.date)).toEqual(days('2026-11-07', 23));
    expect(plan.holdout.map((p) => p.date)).toEqual(days('2026-11-30', 7));
  });

  it('counts the hold-out back from the newest data in the window, not from the run’s day', () => {
    const plan = planWindow(files(days('2026-11-01', 20)), {
      asOf,
      windowDays: 40,
      holdoutDays: 2,
      maxAgeDays: null,
    });
    if (!plan.ok) throw new Error(plan.reason);
    expect(plan.holdout.map((p) => p.date)).toEqual(['2026-11-19', '2026-11-20']);
  });

  it('takes every partition without windowDays, and a trigger’s exact days over the policy’s', () => {
    const every = planWindow(all, { asOf, windowDays: null, holdoutDays: null, maxAgeDays: null });
    expect(every.ok && every.train.length).toBe(67);
    const named = planWindow(all, {
      asOf,
      windowDays: 30,
      holdoutDays: 1,
      maxAgeDays: null,
      override: { from: '2026-10-01', to: '2026-10-10' },
    });
    if (!named.ok) throw new Error(named.reason);
    expect(named.train.map((p) => p.date)).toEqual(days('2026-10-01', 9));
    expect(named.holdout.map((p) => p.date)).toEqual(['2026-10-10']);
  });

  it('refuses stale data, an empty window, a window with nothing left to train on, and undated files', () => {
    const stale = planWindow(files(days('2026-11-01', 20)), {
      asOf,
      windowDays: 30,
      holdoutDays: null,
      maxAgeDays: 3,
    });
    expect(stale).toEqual({
      ok: false,
      reason: 'data too old: the newest partition is 2026-11-20, 16 days before the run (at most 3 allowed)',
    });
    const empty = planWindow(files(['2026-01-01']), {
      asOf,
      windowDays: 30,
      holdoutDays: null,
      maxAgeDays: null,
    });
    expect(empty.ok === false && empty.reason).toMatch(/no partitions from 2026-11-07 to 2026-12-06/);
    const allHeldOut = planWindow(files(days('2026-12-01', 6)), {
      asOf,
      windowDays: 30,
      holdoutDays: 7,
      maxAgeDays: null,
    });
    expect(allHeldOut.ok === false && allHeldOut.reason).toMatch(/nothing to train on/);
    const undated = planWindow(['/d/a.csv', '/d/b.csv'], {
      asOf,
      windowDays: 30,
      holdoutDays: null,
      maxAgeDays: null,
    });
    expect(undated.ok === false && undated.reason).toMatch(/no dated partitions .*2 undated files/);
    const mixed = planWindow([...files(['2026-12-05']), '/d/readme.csv'], {
      asOf,
      windowDays: 30,
      holdoutDays: null,
      maxAgeDays: null,
    });
    expect(mixed.ok && mixed.undated).toEqual(['/d/readme.csv']);
  });

  it('reads a trigger’s window as exact days or as days back from the run', () => {
    expect(windowOverride(undefined, asOf)).toBeNull();
    expect(windowOverride({ days: 7 }, asOf)).toEqual({ from: '2026-11-30', to: '2026-12-06' });
    expect(windowOverride({ from: '2026-09-01', to: '2026-11-30' }, asOf)).toEqual({
      from: '2026-09-01',
      to: '2026-11-30',
    });
    expect(windowOverride({ from: '2026-11-30', to: '2026-09-01' }, asOf)).toEqual({
      error: 'window.from 2026-11-30 is after window.to 2026-09-01',
    });
    for (const bad of [
      { days: 0 },
      { days: 1.5 },
      { days: '7' },
      { from: '2026-02-30', to: '2026-03-01' },
      [],
      'x',
    ])
      expect(windowOverride(bad, asOf), JSON.stringify(bad)).toHaveProperty('error');
  });
});

describe('the local data source', () => {
  it('lists the files a pattern names and reads CSV and Parquet partitions as tables', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'ctloop-source-'));
    for (const d of ['2026-12-01', '2026-12-02']) {
      mkdirSync(path.join(root, `dt=${d}`));
      writeFileSync(path.join(root, `dt=${d}`, 'part-0.csv'), 'x1,label\n1,0\n2,1\n');
      writeFileSync(path.join(root, `dt=${d}`, 'notes.txt'), 'not data');
    }
    mkdirSync(path.join(root, 'dt=2026-12-03', 'part-0.csv'), { recursive: true }); // a folder, not a file
    const parquet = path.join(root, 'dt=2026-12-04');
    mkdirSync(parquet);
    writeFileSync(
      path.join(parquet, 'part-0.parquet'),
      readFileSync(new URL('drift/fixtures/shifted-1500.parquet', import.meta.url)),
    );
    const source = createLocalDataSource();
    expect(await source.list(path.join(root, 'dt=*', 'part-*.csv'))).toEqual([
      path.join(root, 'dt=2026-12-01', 'part-0.csv'),
      path.join(root, 'dt=2026-12-02', 'part-0.csv'),
    ]);
    expect(await source.list(path.join(root, 'nowhere', 'dt=*', '*.csv'))).toEqual([]);
    const csv = await source.read(path.join(root, 'dt=2026-12-01', 'part-0.csv'));
    expect(csv.table).toEqual({
      columns: ['x1', 'label'],
      rows: [
        ['1', '0'],
        ['2', '1'],
      ],
    });
    const [pq] = await source.list(`file://${path.join(root, 'dt=*', '*.parquet')}`);
    const { table } = await source.read(pq!);
    expect(table.rows).toHaveLength(1500);
    expect(table.columns).toContain('x1');
    expect(Number.isFinite(Number(table.rows[0]![table.columns.indexOf('x1')]))).toBe(true);
  });
});

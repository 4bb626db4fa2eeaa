import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/**
 * The approval pages' plots: Vega-Lite specs rendered to SVG on the server
 * (no script runs in the page, and a screenshot or a printout shows them as
 * the approver saw them). Data are inlined; nothing is fetched.
 */

/** Plot width (px) without axes and labels: two charts side by side fit the page. */
const WIDTH = 380;
const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';
const config = {
  font: FONT,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal' as const, gridColor: '#e8e8e8' },
  legend: { labelFontSize: 11, titleFontSize: 11, orient: 'bottom' as const },
  title: { fontSize: 13, anchor: 'start' as const, fontWeight: 'bold' as const },
};

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface IntervalRow {
  readonly label: string;
  readonly estimate: number;
  readonly lower: number;
  readonly upper: number;
}

/**
 * Estimates with their intervals, one row each; a dashed rule at `reference`
 * (0 for "no difference") and a red one at `limit` (a margin) when given.
 */
export function intervalChart(
  rows: readonly IntervalRow[],
  opts: { title: string; xTitle: string; reference?: number; limit?: number },
): Promise<string> {
  const rules = [
    ...(opts.reference === undefined ? [] : [{ x: opts.reference, kind: 'reference' }]),
    ...(opts.limit === undefined ? [] : [{ x: opts.limit, kind: 'limit' }]),
  ];
  const y = { field: 'label', type: 'nominal' as const, title: null, sort: null };
  return render({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: opts.title,
    width: WIDTH,
    height: { step: 28 },
    config,
    layer: [
      {
        data: { values: rules },
        mark: { type: 'rule', strokeDash: [4, 3] },
        encoding: {
          x: { field: 'x', type: 'quantitative' },
          color: {
            field: 'kind',
            type: 'nominal',
            scale: { domain: ['reference', 'limit'], range: ['#888888', '#c0392b'] },
            legend: null,
          },
        },
      },
      {
        data: { values: rows.map((r) => ({ ...r })) },
        layer: [
          {
            mark: { type: 'rule', strokeWidth: 2, color: '#2c6fbb' },
            encoding: {
              y,
              x: { field: 'lower', type: 'quantitative', title: opts.xTitle, scale: { zero: false } },
              x2: { field: 'upper' },
            },
          },
          {
            mark: { type: 'point', filled: true, size: 60, color: '#1b3f6b' },
            encoding: { y, x: { field: 'estimate', type: 'quantitative' } },
          },
        ],
      },
    ],
  } as TopLevelSpec);
}

export interface SeriesPoint {
  readonly at: string;
  readonly series: string;
  readonly value: number;
}

/** Values over time, one line per series, with an optional dashed rule (a threshold such as α). */
export function timeChart(
  points: readonly SeriesPoint[],
  opts: {
    title: string;
    yTitle: string;
    log?: boolean;
    /** d3-format of the y axis, e.g. '.1%'. */
    yFormat?: string;
    rule?: { value: number; label: string };
  },
): Promise<string> {
  const layers: object[] = [
    {
      data: { values: points.map((p) => ({ ...p })) },
      mark: { type: 'line', point: true, interpolate: 'step-after' },
      encoding: {
        x: { field: 'at', type: 'temporal', title: null, axis: { format: '%H:%M:%S' } },
        y: {
          field: 'value',
          type: 'quantitative',
          title: opts.yTitle,
          scale: opts.log ? { type: 'log' } : { zero: true },
          ...(opts.yFormat ? { axis: { format: opts.yFormat } } : {}),
        },
        color: { field: 'series', type: 'nominal', title: null },
      },
    },
  ];
  if (opts.rule) {
    layers.push({
      data: { values: [{ value: opts.rule.value, label: opts.rule.label }] },
      layer: [
        {
          mark: { type: 'rule', strokeDash: [4, 3], color: '#c0392b' },
          encoding: { y: { field: 'value', type: 'quantitative', axis: null } },
        },
        {
          mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#c0392b' },
          encoding: {
            y: { field: 'value', type: 'quantitative', axis: null },
            text: { field: 'label' },
            x: { value: 0 },
          },
        },
      ],
    });
  }
  return render({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: opts.title,
    width: WIDTH,
    height: 160,
    config,
    layer: layers,
  } as TopLevelSpec);
}

/** One bar per label, with a dashed rule at `threshold`. */
export function barChart(
  rows: readonly { label: string; value: number }[],
  opts: { title: string; xTitle: string; threshold?: number },
): Promise<string> {
  const layers: object[] = [
    {
      data: { values: rows.map((r) => ({ ...r })) },
      mark: { type: 'bar', color: '#2c6fbb' },
      encoding: {
        y: { field: 'label', type: 'nominal', title: null, sort: null },
        x: { field: 'value', type: 'quantitative', title: opts.xTitle },
      },
    },
  ];
  if (opts.threshold !== undefined) {
    layers.push({
      data: { values: [{ x: opts.threshold }] },
      mark: { type: 'rule', strokeDash: [4, 3], color: '#c0392b' },
      encoding: { x: { field: 'x', type: 'quantitative' } },
    });
  }
  return render({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: opts.title,
    width: WIDTH,
    height: { step: 20 },
    config,
    layer: layers,
  } as TopLevelSpec);
}

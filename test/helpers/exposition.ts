/**
 * Prometheus' text exposition format, read back: the API's /metrics
 * (test/e2e/metrics.test.ts), a worker's Temporal SDK metrics
 * (test/e2e/worker-metrics.test.ts, bench/lib/sdk-metrics.ts).
 */

/** One sample of the text exposition format: `name{label="value",…} value`. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

/** Parses Prometheus' text format 0.0.4 (label values with \\, \" and \n escapes; no timestamps). */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice('# TYPE '.length).split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const nameEnd = line.search(/[{ ]/);
    const name = line.slice(0, nameEnd);
    const labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') {
      i += 1;
      while (line[i] !== '}') {
        const eq = line.indexOf('=', i);
        const key = line.slice(i, eq);
        if (line[eq + 1] !== '"') throw new Error(`bad label in: ${line}`);
        let value = '';
        let j = eq + 2;
        for (; line[j] !== '"'; j++) {
          if (j >= line.length) throw new Error(`unterminated label value in: ${line}`);
          if (line[j] === '\\') {
            j += 1;
            value += line[j] === 'n' ? '\n' : line[j];
          } else value += line[j];
        }
        labels[key] = value;
        i = line[j + 1] === ',' ? j + 2 : j + 1;
      }
      i += 1;
    }
    const raw = line.slice(i).trim();
    const value = raw === '+Inf' ? Number.POSITIVE_INFINITY : Number(raw);
    if (Number.isNaN(value)) throw new Error(`bad value in: ${line}`);
    samples.push({ name, labels, value });
  }
  return { types, samples };
}

/** The samples of `name` whose labels include `labels`. */
export function select(exposition: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return exposition.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The one sample of `name` with exactly these labels (fails the test if absent). */
export function value(exposition: Exposition, name: string, labels: Record<string, string>): number {
  const found = exposition.samples.filter(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1) {
    throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${found.length}`);
  }
  return found[0]!.value;
}

export const sum = (samples: readonly Sample[]) => samples.reduce((total, s) => total + s.value, 0);

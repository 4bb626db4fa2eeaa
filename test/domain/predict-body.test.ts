/**
 * The serving hot path reads a predict body with quickPredictBody and falls
 * back to the PredictBody schema when it declines. The quick check must never
 * accept what the schema refuses, and must give the same features and key
 * for what it accepts; otherwise a prediction would be served that the API's
 * validation would have answered with 400.
 */
import { describe, expect, it } from 'vitest';
import { PredictBody, quickPredictBody } from '../../api/schemas';
import { seededRandom } from '../../domain/random';

const rand = seededRandom(20261206);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

/** A feature name, sometimes one the schema refuses (too long, NUL) or a hostile one. */
function name(): string {
  return pick([
    () => `x${Math.floor(rand() * 20)}`,
    () => 'n'.repeat(pick([199, 200, 201])),
    () => 'a\u0000b',
    () => '__proto__',
    () => 'constructor',
    () => '',
    () => 'ünï©ødé',
  ])();
}

/** A feature value, sometimes one the schema refuses. */
function value(): unknown {
  return pick<() => unknown>([
    () => rand() * 10 - 5,
    () => 0,
    () => null,
    () => '1.5',
    () => true,
    () => [1],
    () => ({ v: 1 }),
    () => Number.MAX_VALUE,
    () => -1e-300,
  ])();
}

function features(): unknown {
  const kind = rand();
  if (kind < 0.05) return null;
  if (kind < 0.1) return [1, 2];
  if (kind < 0.12) return 'x1=1';
  if (kind < 0.15) return undefined;
  const n = kind < 0.18 ? pick([999, 1000, 1001]) : Math.floor(rand() * 8);
  const body: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) body[n > 100 ? `f${i}` : name()] = value();
  return body;
}

function body(): unknown {
  const kind = rand();
  if (kind < 0.03) return null;
  if (kind < 0.06) return [];
  if (kind < 0.08) return 42;
  const b: Record<string, unknown> = { features: features() };
  const k = rand();
  if (k < 0.4) b.key = pick(['user-1', '', 'k'.repeat(200), 'k'.repeat(201), 'a\u0000', 7, null]);
  if (rand() < 0.1) b.extra = 'ignored';
  // A body as it reaches the server: through JSON (so "__proto__" is an own key, as JSON.parse makes it).
  return JSON.parse(JSON.stringify(b));
}

describe('the quick predict-body check', () => {
  it('accepts nothing the PredictBody schema refuses, and reads what it accepts as the schema does', () => {
    let accepted = 0;
    let declined = 0;
    for (let i = 0; i < 5000; i++) {
      const b = body();
      const quick = quickPredictBody(b);
      const full = PredictBody.safeParse(b);
      if (quick === null) {
        declined += 1;
        continue;
      }
      accepted += 1;
      expect(full.success, JSON.stringify(b).slice(0, 200)).toBe(true);
      expect(quick).toEqual(full.data);
    }
    // Both branches were exercised: the comparison says something.
    expect(accepted).toBeGreaterThan(500);
    expect(declined).toBeGreaterThan(500);
  });

  it('takes the ordinary body, with or without a routing key, on the fast path', () => {
    const plain = { features: { x1: 0.5, x2: -1, x3: null, x4: 0 } };
    expect(quickPredictBody(plain)).toEqual(plain);
    expect(quickPredictBody({ ...plain, key: 'user-42' })).toEqual({ ...plain, key: 'user-42' });
  });

  it('declines the bodies the schema must answer with its own error', () => {
    for (const b of [
      { features: { x1: '1' } },
      { features: { 'a\u0000': 1 } },
      { features: { x1: 1 }, key: '' },
      JSON.parse('{"features":{"__proto__":1}}'),
      { features: Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`f${i}`, 1])) },
      { features: [] },
      { key: 'user-1' },
    ]) {
      expect(quickPredictBody(b)).toBeNull();
    }
  });
});

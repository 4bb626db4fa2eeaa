import type { FeatureSketch, NumericSketch, ReferenceSketch } from './reference-sketch';

/**
 * The stored form of a reference sketch: one binary artifact, so that a
 * thousand features' quantiles (about 32 KB each) are read without parsing
 * millions of JSON numbers.
 *
 * Layout: "CTLSKT01" (8 bytes), the header's byte length (uint32,
 * little-endian), the header as UTF-8 JSON padded with spaces to a multiple
 * of 8, then the numeric arrays one after another as little-endian float64.
 * The header lists the features in order with their scalars and, for each
 * numeric array, its length; categorical counts are in the header as
 * [category, count] pairs in first-appearance order (which fixes the order of
 * the report's categories).
 */

const MAGIC = 'CTLSKT01';
const ARRAYS = ['sorted', 'quantiles', 'points', 'below', 'atMost'] as const;

type NumericHeader = Omit<NumericSketch, (typeof ARRAYS)[number]> & {
  readonly name: string;
  readonly lengths: readonly number[];
};
type CategoricalHeader = {
  readonly name: string;
  readonly kind: 'categorical';
  readonly missing: number;
  readonly counts: readonly (readonly [string, number])[];
};

interface Header {
  readonly resolution: number;
  readonly features: readonly (NumericHeader | CategoricalHeader)[];
}

/**
 * The sketch as bytes.
 *
 * @example
 * decodeReferenceSketch(encodeReferenceSketch(sketch)); // => a sketch equal to `sketch`
 */
export function encodeReferenceSketch(sketch: ReferenceSketch): Uint8Array {
  const arrays: Float64Array[] = [];
  const features = [...sketch.features].map(([name, f]): NumericHeader | CategoricalHeader => {
    if (f.kind === 'categorical')
      return { name, kind: 'categorical', missing: f.missing, counts: [...f.counts] };
    const { sorted, quantiles, points, below, atMost, ...scalars } = f;
    const own = [sorted, quantiles, points, below, atMost];
    arrays.push(...own);
    return { name, ...scalars, lengths: own.map((a) => a.length) };
  });
  const header: Header = { resolution: sketch.resolution, features };
  let json = JSON.stringify(header);
  const headerBytes = new TextEncoder().encode(json);
  const padded = Math.ceil((12 + headerBytes.length) / 8) * 8 - 12;
  json += ' '.repeat(padded - headerBytes.length);
  const total = 12 + padded + arrays.reduce((sum, a) => sum + a.length * 8, 0);
  const out = new Uint8Array(total);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, padded, true);
  out.set(new TextEncoder().encode(json), 12);
  let offset = 12 + padded;
  const view = new DataView(out.buffer);
  for (const a of arrays) {
    for (let k = 0; k < a.length; k++) view.setFloat64(offset + 8 * k, a[k]!, true);
    offset += a.length * 8;
  }
  return out;
}

/**
 * The sketch from its bytes.
 *
 * @throws {Error} `decodeReferenceSketch: ...` when the bytes are not a sketch
 */
export function decodeReferenceSketch(bytes: Uint8Array): ReferenceSketch {
  const text = new TextDecoder();
  if (bytes.length < 12 || text.decode(bytes.subarray(0, 8)) !== MAGIC)
    throw new Error('decodeReferenceSketch: not a ctloop reference sketch');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(8, true);
  const header = JSON.parse(text.decode(bytes.subarray(12, 12 + headerLength))) as Header;
  let offset = 12 + headerLength;
  const next = (length: number) => {
    if (offset + length * 8 > bytes.length) throw new Error('decodeReferenceSketch: the sketch is truncated');
    const a = new Float64Array(length);
    for (let k = 0; k < length; k++) a[k] = view.getFloat64(offset + 8 * k, true);
    offset += length * 8;
    return a;
  };
  const features = new Map<string, FeatureSketch>();
  for (const f of header.features) {
    if (f.kind === 'categorical') {
      features.set(f.name, { kind: 'categorical', missing: f.missing, counts: new Map(f.counts) });
      continue;
    }
    const { name, lengths, ...scalars } = f;
    const [sorted, quantiles, points, below, atMost] = lengths.map(next) as [
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
    ];
    features.set(name, { ...scalars, sorted, quantiles, points, below, atMost });
  }
  return { resolution: header.resolution, features };
}

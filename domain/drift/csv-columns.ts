import { isNullCell } from '../data-validation';
import type { CategoricalColumn, ColumnarData, DriftFeature } from './report';

/**
 * Reads the drift report's columns straight out of CSV text: numeric features
 * into Float64Arrays (a missing cell is NaN), categorical ones into their
 * trimmed cell texts (a missing cell is null).
 *
 * Same CSV and cell rules as `parseCsv` + `toMatrix` (RFC 4180 quoting, LF or
 * CRLF, blank lines skipped, a leading BOM dropped, header names trimmed;
 * empty / NA / null cells missing; numbers in plain decimal notation), but
 * one pass over the text without building a row of strings per record: a
 * 356,000 × 50 batch is 18 million cells, and a string and a boxed number per
 * cell would cost gigabytes and most of a report's time. Unquoted numeric
 * cells are parsed from the characters directly: a decimal of at most 15
 * significant digits and a power of ten of at most 22 is m / 10^k or m × 10^k
 * with m and 10^k both exact doubles, so one IEEE operation rounds it
 * correctly (Clinger's fast path) and the value equals `Number(cell)`; any
 * other cell goes through `Number`.
 *
 * Reference: W. D. Clinger, "How to read floating point numbers accurately", PLDI 1990.
 *
 * @throws {Error} `csvColumns: ...` naming the line and column when the
 * header lacks a feature, a record has the wrong number of fields, a quote is
 * malformed, or a numeric cell is not a number
 * @example
 * csvColumns('age,plan,label\n31,pro,1\n,basic,0\n', [
 *   { name: 'age', kind: 'numeric' }, { name: 'plan', kind: 'categorical' }]);
 * // => { age: Float64Array [31, NaN], plan: ['pro', 'basic'] }
 */
export function csvColumns(text: string, features: readonly DriftFeature[]): ColumnarData {
  const reader = new Reader(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  const header = reader.header();
  const slotOf = new Int32Array(header.length).fill(-1);
  const sinks = features.map((feature, slot) => {
    const at = header.indexOf(feature.name);
    if (at < 0) throw new Error(`csvColumns: the header has no column '${feature.name}'`);
    slotOf[at] = slot;
    return feature.kind === 'numeric' ? new NumericSink(feature.name) : new CategorySink(feature.name);
  });
  reader.records(header.length, slotOf, sinks);
  return Object.fromEntries(features.map((f, slot) => [f.name, sinks[slot]!.values()]));
}

// Character codes.
const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;
const PLUS = 43;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const LOWER_E = 101;
const UPPER_E = 69;

// Plain decimal notation only, as data validation accepts it (no hex, no Infinity).
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => 10 ** k); // exact doubles up to 1e22

interface Sink {
  /** An unquoted cell, text[from, to). */
  span(text: string, from: number, to: number, line: number): void;
  /** A quoted cell, already unescaped. */
  cell(value: string, line: number): void;
  values(): Float64Array | CategoricalColumn;
}

class NumericSink implements Sink {
  private data = new Float64Array(1024);
  private length = 0;
  constructor(private readonly name: string) {}

  span(text: string, from: number, to: number, line: number): void {
    const v = fastDecimal(text, from, to);
    this.push(Number.isNaN(v) ? this.slow(text.slice(from, to), line) : v);
  }

  cell(value: string, line: number): void {
    this.push(this.slow(value, line));
  }

  values(): Float64Array {
    return this.data.slice(0, this.length);
  }

  private slow(cell: string, line: number): number {
    if (isNullCell(cell)) return Number.NaN;
    const trimmed = cell.trim();
    const value = DECIMAL.test(trimmed) ? Number(trimmed) : Number.NaN;
    if (!Number.isFinite(value)) {
      throw new Error(`csvColumns: line ${line} column '${this.name}': '${cell}' is not a number`);
    }
    return value;
  }

  private push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }
}

class CategorySink implements Sink {
  private readonly data: (string | null)[] = [];
  constructor(readonly name: string) {}
  span(text: string, from: number, to: number): void {
    this.cell(text.slice(from, to));
  }
  cell(value: string): void {
    this.data.push(isNullCell(value) ? null : value.trim());
  }
  values(): CategoricalColumn {
    return this.data;
  }
}

/**
 * The value of an unquoted decimal cell text[from, to) when Clinger's fast
 * path applies, else NaN (the caller then parses it the slow way: missing
 * tokens, spaces, long mantissas, big exponents, malformed text).
 */
function fastDecimal(text: string, from: number, to: number): number {
  let i = from;
  let negative = false;
  let c = text.charCodeAt(i);
  if (c === MINUS || c === PLUS) {
    negative = c === MINUS;
    i++;
  }
  let mantissa = 0;
  let significant = 0;
  let digits = 0;
  let scale = 0; // digits after the point
  let seenDot = false;
  for (; i < to; i++) {
    c = text.charCodeAt(i);
    if (c >= ZERO && c <= NINE) {
      digits++;
      if (seenDot) scale++;
      if (mantissa !== 0 || c !== ZERO) significant++;
      mantissa = mantissa * 10 + (c - ZERO);
    } else if (c === DOT && !seenDot) {
      seenDot = true;
    } else break;
  }
  if (digits === 0 || significant > 15) return Number.NaN;
  let exponent = 0;
  if (i < to) {
    if (c !== LOWER_E && c !== UPPER_E) return Number.NaN;
    i++;
    let expNegative = false;
    c = text.charCodeAt(i);
    if (c === MINUS || c === PLUS) {
      expNegative = c === MINUS;
      i++;
    }
    const start = i;
    for (; i < to; i++) {
      c = text.charCodeAt(i);
      if (c < ZERO || c > NINE || exponent > 1000) return Number.NaN;
      exponent = exponent * 10 + (c - ZERO);
    }
    if (i === start) return Number.NaN;
    if (expNegative) exponent = -exponent;
  }
  const power = exponent - scale;
  if (power < -22 || power > 22) return Number.NaN;
  const value = power < 0 ? mantissa / POWERS_OF_TEN[-power]! : mantissa * POWERS_OF_TEN[power]!;
  if (!Number.isFinite(value)) return Number.NaN;
  return negative ? -value : value;
}

/** Walks the CSV text record by record, handing each wanted field to its sink. */
class Reader {
  private i = 0;
  private line = 1;
  constructor(private readonly text: string) {}

  header(): string[] {
    this.skipBlankLines();
    if (this.i >= this.text.length)
      throw new Error('csvColumns: line 1: header is empty (the text has no records)');
    const names: string[] = [];
    const line = this.line;
    for (;;) {
      const { value, last } = this.field();
      const name = value.trim();
      if (name === '')
        throw new Error(`csvColumns: line ${line}: header column ${names.length + 1} has an empty name`);
      if (names.includes(name))
        throw new Error(`csvColumns: line ${line}: header column '${name}' appears more than once`);
      names.push(name);
      if (last) return names;
    }
  }

  records(width: number, slotOf: Int32Array, sinks: readonly Sink[]): void {
    const { text } = this;
    const n = text.length;
    for (;;) {
      this.skipBlankLines();
      if (this.i >= n) return;
      const line = this.line;
      let column = 0;
      for (;;) {
        if (column >= width) {
          throw new Error(`csvColumns: line ${line}: expected ${width} fields (as in the header), got more`);
        }
        const slot = slotOf[column]!;
        let last: boolean;
        if (text.charCodeAt(this.i) === QUOTE) {
          const field = this.field();
          if (slot >= 0) sinks[slot]!.cell(field.value, line);
          last = field.last;
        } else {
          // Unquoted: scan to the delimiter without building a string.
          const from = this.i;
          let j = from;
          let c = 0;
          while (j < n) {
            c = text.charCodeAt(j);
            if (c === COMMA || c === LF || c === CR) break;
            j++;
          }
          if (slot >= 0) sinks[slot]!.span(text, from, j, line);
          last = this.endField(j);
        }
        column++;
        if (last) break;
      }
      if (column !== width) {
        throw new Error(
          `csvColumns: line ${line}: expected ${width} fields (as in the header), got ${column}`,
        );
      }
    }
  }

  /** One field from the cursor, unescaped; `last` when it ended its record. */
  private field(): { value: string; last: boolean } {
    const { text } = this;
    if (text.charCodeAt(this.i) !== QUOTE) {
      const from = this.i;
      let j = from;
      while (j < text.length) {
        const c = text.charCodeAt(j);
        if (c === COMMA || c === LF || c === CR) break;
        j++;
      }
      return { value: text.slice(from, j), last: this.endField(j) };
    }
    const quoteLine = this.line;
    let value = '';
    let j = this.i + 1;
    for (;;) {
      const close = text.indexOf('"', j);
      if (close < 0) throw new Error(`csvColumns: line ${quoteLine}: quoted field is never closed`);
      const chunk = text.slice(j, close);
      for (let k = chunk.indexOf('\n'); k >= 0; k = chunk.indexOf('\n', k + 1)) this.line++;
      value += chunk;
      if (text.charCodeAt(close + 1) === QUOTE) {
        value += '"';
        j = close + 2;
        continue;
      }
      j = close + 1;
      break;
    }
    const next = text.charCodeAt(j);
    if (j < text.length && next !== COMMA && next !== LF && next !== CR) {
      throw new Error(
        `csvColumns: line ${this.line}: unexpected character '${text[j]}' after a closing quote`,
      );
    }
    return { value, last: this.endField(j) };
  }

  /** Moves past the delimiter at j; true when it ended the record (line break or end of text). */
  private endField(j: number): boolean {
    const c = this.text.charCodeAt(j);
    if (c === COMMA) {
      this.i = j + 1;
      return false;
    }
    if (j >= this.text.length) {
      this.i = j;
      return true;
    }
    // CRLF is one line break, not two.
    this.i = c === CR && this.text.charCodeAt(j + 1) === LF ? j + 2 : j + 1;
    this.line++;
    return true;
  }

  private skipBlankLines(): void {
    const { text } = this;
    for (;;) {
      const c = text.charCodeAt(this.i);
      if (c === LF) {
        this.i++;
        this.line++;
      } else if (c === CR) {
        this.i += text.charCodeAt(this.i + 1) === LF ? 2 : 1;
        this.line++;
      } else return;
    }
  }
}

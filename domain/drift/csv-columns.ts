import { isNullCell } from '../data-validation';
import type { ColumnarData, DriftFeature } from './report';

/**
 * Reads the drift report's columns straight out of a CSV file's bytes
 * (UTF-8; a string is encoded first): numeric features into Float64Arrays (a
 * missing cell is NaN), categorical ones into their trimmed cell texts (a
 * missing cell is null).
 *
 * Same CSV and cell rules as `parseCsv` + `toMatrix` (RFC 4180 quoting, LF or
 * CRLF, blank lines skipped, a leading BOM dropped, header names trimmed;
 * empty / NA / null cells missing; numbers in plain decimal notation), but
 * one pass over the bytes without a string per cell: a 356,000 × 50 batch is
 * 18 million cells, and a string and a boxed number per cell would cost
 * gigabytes and most of a report's time. An unquoted numeric cell is parsed
 * while it is scanned: a decimal of at most 15 significant digits and a power
 * of ten of at most 22 is m / 10^k or m × 10^k with m and 10^k both exact
 * doubles, so one IEEE operation rounds it correctly (Clinger's fast path)
 * and the value equals `Number(cell)`; any other cell goes through `Number`.
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
export function csvColumns(input: Uint8Array | string, features: readonly DriftFeature[]): ColumnarData {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input;
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  const reader = new Reader(bom ? bytes.subarray(3) : bytes, features);
  return reader.read();
}

// Byte values.
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
const POWERS_OF_TEN = Float64Array.from({ length: 23 }, (_, k) => 10 ** k); // exact doubles up to 1e22
const utf8 = new TextDecoder();

/**
 * How many records the columns start with: the bytes after the header over
 * the first record's length, plus 5 %. Numeric records are close to one
 * length, so the columns are rarely grown (each doubling copies every column;
 * from 1,024 rows a 356,000-row file doubled nine times, ~0.25 s of 7).
 * A guess too small only means growing; at least 1,024, at most 2^24 to start.
 */
function estimatedRows(b: Uint8Array): number {
  const headerEnd = b.indexOf(LF);
  const recordEnd = headerEnd < 0 ? -1 : b.indexOf(LF, headerEnd + 1);
  if (recordEnd < 0) return 1024;
  const estimate = Math.ceil(((b.length - headerEnd) / (recordEnd - headerEnd)) * 1.05);
  return Math.min(Math.max(estimate, 1024), 2 ** 24);
}

/** Walks the bytes record by record, filling the wanted columns. */
class Reader {
  private i = 0;
  private line = 1;
  private rows = 0;
  private capacity = 1024;
  /** Per wanted column (slot): its numeric values, or null for a categorical one. */
  private readonly numeric: (Float64Array | null)[];
  private readonly categorical: ((string | null)[] | null)[];

  constructor(
    private readonly b: Uint8Array,
    private readonly features: readonly DriftFeature[],
  ) {
    this.capacity = estimatedRows(b);
    this.numeric = features.map((f) => (f.kind === 'numeric' ? new Float64Array(this.capacity) : null));
    this.categorical = features.map((f) => (f.kind === 'numeric' ? null : []));
  }

  read(): ColumnarData {
    const header = this.header();
    const slotOf = new Int32Array(header.length).fill(-1);
    this.features.forEach((feature, slot) => {
      const at = header.indexOf(feature.name);
      if (at < 0) throw new Error(`csvColumns: the header has no column '${feature.name}'`);
      slotOf[at] = slot;
    });
    this.records(header.length, slotOf);
    return Object.fromEntries(
      this.features.map((f, slot) => [
        f.name,
        this.numeric[slot]?.slice(0, this.rows) ?? this.categorical[slot]!,
      ]),
    );
  }

  private header(): string[] {
    this.skipBlankLines();
    if (this.i >= this.b.length)
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

  /**
   * The records after the header. The hot path, an unquoted cell of a numeric
   * column, is written out inline on local variables (cursor, line, row) with
   * no call and no allocation per cell: this loop runs for every one of a
   * batch's tens of millions of cells. Everything else (quotes, categorical
   * cells, cells the fast path does not take) goes through the methods below,
   * with the cursor synced to `this.i` / `this.line` around them.
   */
  private records(width: number, slotOf: Int32Array): void {
    for (;;) {
      this.skipBlankLines();
      if (this.i >= this.b.length) break;
      if (this.rows === this.capacity) this.grow();
      this.record(width, slotOf);
    }
  }

  /**
   * One record from the cursor (not a blank line), into row `this.rows`. A
   * method called per record rather than a loop over all of them: V8 then
   * compiles it as a function entered from the top, where a loop over a whole
   * file would be compiled on the fly from inside its inner loop (on-stack
   * replacement), which ran a cold parse ~30 % slower than a warm one.
   */
  private record(width: number, slotOf: Int32Array): void {
    const { b, numeric } = this;
    const n = b.length;
    let i = this.i;
    let line = this.line;
    const row = this.rows;
    const recordLine = line;
    let column = 0;
    for (;;) {
      if (column >= width) {
        throw new Error(
          `csvColumns: line ${recordLine}: expected ${width} fields (as in the header), got more`,
        );
      }
      const slot = slotOf[column]!;
      const values = slot >= 0 ? numeric[slot]! : null;
      let j = i;
      let value = Number.NaN;
      if (values !== null && b[i] !== QUOTE) {
        // Clinger's fast path: [sign] digits [. digits] [e [sign] digits], the mantissa
        // below 2^53 (so every partial sum is exact) and the power of ten within ±22.
        let c = b[j]!;
        const negative = c === MINUS;
        if (negative || c === PLUS) c = b[++j]!;
        // Digits gather in a double: mantissa · 10 + digit is exact while it stays below
        // 2^53, and once the exact value passes 2^53 the rounded one does too, so the
        // check below still tells an exact mantissa. (Gathering nine digits at a time in
        // an integer first was measured ~20 % slower, cold, on 356,000 × 50 cells.)
        const start = j;
        let dot = -1;
        let mantissa = 0;
        for (; j < n; c = b[++j]!) {
          const digit = c - ZERO;
          if (digit >>> 0 <= 9) mantissa = mantissa * 10 + digit;
          else if (c === DOT && dot < 0) dot = j;
          else break;
        }
        const scale = dot < 0 ? 0 : j - dot - 1;
        const digits = j - start - (dot < 0 ? 0 : 1);
        let exponent = 0;
        let ok = digits > 0 && mantissa < 2 ** 53;
        if (ok && j < n && (c === LOWER_E || c === UPPER_E)) {
          c = b[++j]!;
          const expNegative = c === MINUS;
          if (expNegative || c === PLUS) c = b[++j]!;
          const expStart = j;
          while (j < n && c >= ZERO && c <= NINE && exponent <= 1000) {
            exponent = exponent * 10 + (c - ZERO);
            c = b[++j]!;
          }
          ok = j > expStart && exponent <= 1000;
          if (expNegative) exponent = -exponent;
        }
        const power = exponent - scale;
        if (ok && (j >= n || c === COMMA || c === LF || c === CR) && power >= -22 && power <= 22) {
          value = power < 0 ? mantissa / POWERS_OF_TEN[-power]! : mantissa * POWERS_OF_TEN[power]!;
          if (negative) value = -value;
        } else {
          j = i; // not a plain short decimal: the cell's text goes through Number below
        }
      }
      if (j !== i) {
        values![row] = value;
      } else if (b[i] === QUOTE) {
        this.i = i;
        this.line = line;
        const field = this.field();
        if (slot >= 0) this.store(slot, row, field.value, recordLine);
        i = this.i;
        line = this.line;
        j = -1; // field() has moved past the delimiter
        if (field.last) {
          column++;
          break;
        }
      } else {
        j = this.delimiterFrom(i);
        if (slot >= 0) {
          const cell = utf8.decode(b.subarray(i, j));
          if (values !== null) values[row] = this.slowNumber(cell, slot, recordLine);
          else this.categorical[slot]!.push(isNullCell(cell) ? null : cell.trim());
        }
      }
      column++;
      if (j < 0) continue;
      // The delimiter at j: a comma continues the record; a line break or the end closes it.
      const c = b[j];
      if (c === COMMA) {
        i = j + 1;
        continue;
      }
      if (j >= n) i = j;
      else {
        // CRLF is one line break, not two.
        i = c === CR && b[j + 1] === LF ? j + 2 : j + 1;
        line++;
      }
      break;
    }
    if (column !== width) {
      throw new Error(
        `csvColumns: line ${recordLine}: expected ${width} fields (as in the header), got ${column}`,
      );
    }
    this.rows++;
    this.i = i;
    this.line = line;
  }

  private slowNumber(cell: string, slot: number, line: number): number {
    if (isNullCell(cell)) return Number.NaN;
    const trimmed = cell.trim();
    const value = DECIMAL.test(trimmed) ? Number(trimmed) : Number.NaN;
    if (!Number.isFinite(value)) {
      throw new Error(
        `csvColumns: line ${line} column '${this.features[slot]!.name}': '${cell}' is not a number`,
      );
    }
    return value;
  }

  private store(slot: number, row: number, cell: string, line: number): void {
    const numeric = this.numeric[slot];
    if (numeric) numeric[row] = this.slowNumber(cell, slot, line);
    else this.categorical[slot]!.push(isNullCell(cell) ? null : cell.trim());
  }

  private grow(): void {
    this.capacity *= 2;
    for (let slot = 0; slot < this.numeric.length; slot++) {
      const old = this.numeric[slot];
      if (!old) continue;
      const grown = new Float64Array(this.capacity);
      grown.set(old);
      this.numeric[slot] = grown;
    }
  }

  private delimiterFrom(from: number): number {
    const { b } = this;
    let j = from;
    while (j < b.length) {
      const c = b[j]!;
      if (c === COMMA || c === LF || c === CR) break;
      j++;
    }
    return j;
  }

  /** One field from the cursor, unescaped; `last` when it ended its record. */
  private field(): { value: string; last: boolean } {
    const { b } = this;
    if (b[this.i] !== QUOTE) {
      const from = this.i;
      const to = this.delimiterFrom(from);
      return { value: utf8.decode(b.subarray(from, to)), last: this.endField(to) };
    }
    const quoteLine = this.line;
    let value = '';
    let j = this.i + 1;
    for (;;) {
      const close = b.indexOf(QUOTE, j);
      if (close < 0) throw new Error(`csvColumns: line ${quoteLine}: quoted field is never closed`);
      const chunk = b.subarray(j, close);
      for (let k = chunk.indexOf(LF); k >= 0; k = chunk.indexOf(LF, k + 1)) this.line++;
      value += utf8.decode(chunk);
      if (b[close + 1] === QUOTE) {
        value += '"';
        j = close + 2;
        continue;
      }
      j = close + 1;
      break;
    }
    const next = b[j];
    if (j < b.length && next !== COMMA && next !== LF && next !== CR) {
      throw new Error(
        `csvColumns: line ${this.line}: unexpected character '${String.fromCharCode(next!)}' after a closing quote`,
      );
    }
    return { value, last: this.endField(j) };
  }

  /** Moves past the delimiter at j; true when it ended the record (line break or end of input). */
  private endField(j: number): boolean {
    const { b } = this;
    const c = b[j];
    if (c === COMMA) {
      this.i = j + 1;
      return false;
    }
    if (j >= b.length) {
      this.i = j;
      return true;
    }
    // CRLF is one line break, not two.
    this.i = c === CR && b[j + 1] === LF ? j + 2 : j + 1;
    this.line++;
    return true;
  }

  private skipBlankLines(): void {
    const { b } = this;
    while (this.i < b.length) {
      const c = b[this.i];
      if (c === LF) {
        this.i++;
        this.line++;
      } else if (c === CR) {
        this.i += b[this.i + 1] === LF ? 2 : 1;
        this.line++;
      } else return;
    }
  }
}

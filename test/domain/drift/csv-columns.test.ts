import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../../domain/csv';
import { toMatrix } from '../../../domain/data-validation';
import { csvColumns } from '../../../domain/drift/csv-columns';
import type { DriftFeature } from '../../../domain/drift/report';
import { seededRandom } from '../../../domain/random';

const numeric = (...names: string[]): DriftFeature[] => names.map((name) => ({ name, kind: 'numeric' }));

/** What the training path reads from the same text: parseCsv + toMatrix, missing as NaN. */
function viaParseCsv(text: string, names: string[]): Record<string, number[]> {
  const { X } = toMatrix(parseCsv(text), {
    features: names.map((name) => ({ name, maxNullRate: 1 })),
    label: 'label',
  });
  return Object.fromEntries(names.map((name, j) => [name, X.map((row) => row[j] ?? Number.NaN)]));
}

describe('csvColumns', () => {
  it.each([
    ['plain', 'a,b,label\n1,2,0\n3.5,-4e-3,1\n'],
    ['CRLF, BOM, blank lines and spaced header names', '\uFEFF a ,b,label\r\n\r\n1,2,0\r\n\n3,4,1'],
    ['quoted cells and a quoted header', '"a","b",label\n"1.5",2,0\n" 7 ","1e3",1\n'],
    ['missing cells: empty, NA, null, spaces', 'a,b,label\n,NA,0\n null ,  ,1\n0,na,1\n'],
    [
      'numbers beyond the fast path',
      'a,b,label\n1234567890.123456789,1e-300,0\n+.5,5.,1\n1e22,1e23,0\n0.000000000000000000000001,-0,1\n',
    ],
  ])('reads the same numbers as parseCsv + toMatrix: %s', (_name, text) => {
    const columns = csvColumns(text, numeric('a', 'b'));
    const expected = viaParseCsv(text, ['a', 'b']);
    expect(Array.from(columns.a as Float64Array)).toEqual(expected.a);
    expect(Array.from(columns.b as Float64Array)).toEqual(expected.b);
  });

  it('parses 20,000 random decimals exactly as Number() does (fast path and fallback)', () => {
    const rand = seededRandom(5);
    const cells = Array.from({ length: 20_000 }, (_, i) => {
      const x = (rand() - 0.5) * 10 ** Math.floor(rand() * 40 - 20);
      return i % 3 === 0 ? String(x) : i % 3 === 1 ? x.toPrecision(1 + (i % 17)) : x.toExponential(i % 12);
    });
    const column = csvColumns(`v\n${cells.join('\n')}\n`, numeric('v')).v as Float64Array;
    expect(Array.from(column)).toEqual(cells.map(Number));
  });

  it('parses mantissas around 2^53 and long runs of digits exactly as Number() does', () => {
    const cells = [
      '9007199254740991',
      '9007199254740992',
      '9007199254740993',
      '-9007199254740993',
      '900719925474099.3',
      '0.9007199254740993',
      '12345678901234567890',
      '0.00000000000000000000000001',
      '000000000000000000001.5',
      '1.0000000000000000000000001',
      '99999999999999999999e-22',
      '123456789012345e22',
      '1e23',
      '4.35',
      '-0.000001',
    ];
    const column = csvColumns(`v\n${cells.join('\n')}\n`, numeric('v')).v as Float64Array;
    expect(Array.from(column)).toEqual(cells.map(Number));
  });

  it('reads categorical columns as trimmed labels with null for a missing cell, and ignores other columns', () => {
    const text = 'plan,x,label\n pro ,1,0\n"team, large",2,1\nNA,3,0\n,4,1\n2,5,0\nZürich,6,1\n';
    const columns = csvColumns(Buffer.from(text, 'utf8'), [{ name: 'plan', kind: 'categorical' }]);
    expect(columns).toEqual({ plan: ['pro', 'team, large', null, null, '2', 'Zürich'] });
  });

  it.each([
    ['a missing column', 'a,label\n1,0\n', "csvColumns: the header has no column 'b'"],
    [
      'a short record',
      'a,b,label\n1,2,0\n3,4\n',
      'csvColumns: line 3: expected 3 fields (as in the header), got 2',
    ],
    [
      'a long record',
      'a,b,label\n1,2,0,9\n',
      'csvColumns: line 2: expected 3 fields (as in the header), got more',
    ],
    [
      'a word in a numeric column',
      'a,b,label\n1,2,0\n\nx1,2,0\n',
      "csvColumns: line 4 column 'a': 'x1' is not a number",
    ],
    ['Infinity', 'a,b,label\nInfinity,2,0\n', "csvColumns: line 2 column 'a': 'Infinity' is not a number"],
    ['an unclosed quote', 'a,b,label\n"1,2,0\n', 'csvColumns: line 2: quoted field is never closed'],
    ['an empty text', '', 'csvColumns: line 1: header is empty'],
  ])('refuses %s, naming the line', (_name, text, message) => {
    expect(() => csvColumns(text, numeric('a', 'b'))).toThrow(message);
  });
});

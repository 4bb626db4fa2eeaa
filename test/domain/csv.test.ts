import { describe, expect, it } from 'vitest';
import { parseCsv, toCsv } from '../../domain/csv';

describe('parseCsv', () => {
  it.each([
    [
      'plain, trailing newline',
      'a,b\n1,2\n3,4\n',
      ['a', 'b'],
      [
        ['1', '2'],
        ['3', '4'],
      ],
    ],
    ['no trailing newline', 'a,b\n1,2', ['a', 'b'], [['1', '2']]],
    [
      'CRLF line ends',
      'a,b\r\n1,2\r\n3,4\r\n',
      ['a', 'b'],
      [
        ['1', '2'],
        ['3', '4'],
      ],
    ],
    ['quoted comma', 'a,b\n"1,5",x\n', ['a', 'b'], [['1,5', 'x']]],
    ['escaped quotes', 'a,b\n"say ""hi""",""\n', ['a', 'b'], [['say "hi"', '']]],
    ['line break inside quotes', 'a,b\n"two\nlines",2\n', ['a', 'b'], [['two\nlines', '2']]],
    [
      'empty cells',
      'a,b,c\n,,\n1,,3\n',
      ['a', 'b', 'c'],
      [
        ['', '', ''],
        ['1', '', '3'],
      ],
    ],
    [
      'blank lines skipped',
      'a,b\n\n1,2\n\n\n3,4\n\n',
      ['a', 'b'],
      [
        ['1', '2'],
        ['3', '4'],
      ],
    ],
    ['BOM and padded header names', '\uFEFF a , b\n1, 2\n', ['a', 'b'], [['1', ' 2']]],
    ['quote inside an unquoted field is literal', 'a\n5"\n', ['a'], [['5"']]],
    ['header only', 'a,b\n', ['a', 'b'], []],
  ])('%s', (_name, text, columns, rows) => {
    expect(parseCsv(text)).toEqual({ columns, rows });
  });

  it.each([
    ['empty text', '', 'parseCsv: line 1: header is empty'],
    ['only blank lines', '\n\n', 'parseCsv: line 1: header is empty'],
    ['empty header name', 'a,,c\n1,2,3\n', 'parseCsv: line 1: header column 2 has an empty name'],
    ['duplicated header', 'a,b,a\n1,2,3\n', "parseCsv: line 1: header column 'a' appears more than once"],
    ['too few fields', 'a,b\n1,2\n3\n', 'parseCsv: line 3: expected 2 fields (as in the header), got 1'],
    ['too many fields', 'a,b\n1,2,3\n', 'parseCsv: line 2: expected 2 fields (as in the header), got 3'],
    // The quoted break makes the bad record start on physical line 4.
    ['line numbers count quoted breaks', 'a,b\n"x\ny",1\n1\n', 'parseCsv: line 4: expected 2 fields'],
    [
      'line numbers count blank lines (CRLF)',
      'a,b\r\n\r\n1,2\r\n3\r\n',
      'parseCsv: line 4: expected 2 fields',
    ],
    ['unclosed quote', 'a,b\n1,"oops\n', 'parseCsv: line 2: quoted field is never closed'],
    [
      'text after closing quote',
      'a,b\n"1"2,3\n',
      "parseCsv: line 2: unexpected character '2' after a closing quote",
    ],
  ])('rejects %s', (_name, text, message) => {
    expect(() => parseCsv(text)).toThrow(message);
  });
});

describe('toCsv', () => {
  it('quotes only cells that need it and writes null as empty', () => {
    expect(
      toCsv(
        ['x1', 'note'],
        [
          [1.5, 'a,b'],
          [null, 'say "hi"'],
          [-2, 'two\nlines'],
        ],
      ),
    ).toBe('x1,note\n1.5,"a,b"\n,"say ""hi"""\n-2,"two\nlines"\n');
  });

  it('round-trips through parseCsv', () => {
    const columns = ['id', 'text', 'value'];
    const rows = [
      ['1', 'plain', '0.25'],
      ['2', 'comma, inside', ''],
      ['3', '"quoted"', '-1e-7'],
      ['4', 'cr\r\nlf', '7'],
    ];
    expect(parseCsv(toCsv(columns, rows))).toEqual({ columns, rows });
  });

  it('keeps a single empty cell as a row (not a blank line)', () => {
    const text = toCsv(['a'], [[''], ['1'], [null]]);
    expect(text).toBe('a\n""\n1\n""\n');
    expect(parseCsv(text).rows).toEqual([[''], ['1'], ['']]);
  });

  it.each([
    ['a row of the wrong length', ['a', 'b'], [[1]], 'toCsv: row 1 has 1 cells, expected 2'],
    ['a non-finite number', ['a'], [[1], [Number.NaN]], "toCsv: row 2 column 'a' is NaN"],
    ['no columns', [], [], 'toCsv: columns must not be empty'],
  ])('rejects %s', (_name, columns, rows, message) => {
    expect(() => toCsv(columns, rows)).toThrow(message);
  });
});

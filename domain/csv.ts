/**
 * CSV as RFC 4180 writes it: comma-separated, fields optionally wrapped in
 * double quotes, a quote inside a quoted field doubled (""), records ended by
 * LF or CRLF. Cells stay strings; what they mean is data validation's job.
 */

export interface CsvTable {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

interface RawRecord {
  readonly line: number;
  readonly fields: string[];
}

/**
 * Parses CSV text whose first record is the header.
 *
 * Blank lines are skipped (as pandas does by default), because exports and
 * editors leave them at the end or between blocks and they carry no data; a
 * leading UTF-8 byte-order mark (Excel) is dropped; spaces around header names
 * are formatting and are trimmed, data cells are kept as written.
 *
 * @throws {Error} `parseCsv: line N: ...` (1-based, the line where the record
 * starts) when the header is missing, has an empty or duplicated name, a row
 * has the wrong number of fields, or a quote is malformed
 * @example
 * parseCsv('x1,label\n"1,5",1\n');
 * // => { columns: ['x1', 'label'], rows: [['1,5', '1']] }
 */
export function parseCsv(text: string): CsvTable {
  const records = readRecords(text.startsWith('\uFEFF') ? text.slice(1) : text);
  const header = records[0];
  if (header === undefined) {
    throw new Error('parseCsv: line 1: header is empty (the text has no records)');
  }
  const columns = header.fields.map((name) => name.trim());
  const seen = new Set<string>();
  columns.forEach((name, i) => {
    if (name === '') {
      throw new Error(`parseCsv: line ${header.line}: header column ${i + 1} has an empty name`);
    }
    if (seen.has(name)) {
      throw new Error(`parseCsv: line ${header.line}: header column '${name}' appears more than once`);
    }
    seen.add(name);
  });
  const rows = records.slice(1).map((record) => {
    if (record.fields.length !== columns.length) {
      throw new Error(
        `parseCsv: line ${record.line}: expected ${columns.length} fields (as in the header), got ${record.fields.length}`,
      );
    }
    return record.fields;
  });
  return { columns, rows };
}

/** Splits text into records, tracking the line each starts on. */
function readRecords(text: string): RawRecord[] {
  const records: RawRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  // True once the current record has any content (a character or a delimiter),
  // so that a blank line can be told apart from a record with one empty field.
  let started = false;
  let i = 0;

  const endRecord = () => {
    if (started) {
      fields.push(field);
      records.push({ line: recordLine, fields });
    }
    fields = [];
    field = '';
    started = false;
  };

  while (i < text.length) {
    const ch = text[i];
    // A quote opens a quoted field only at the start of a field; elsewhere
    // (`5"`, `a"b`) it is an ordinary character, as in Python's csv module.
    if (ch === '"' && field === '') {
      started = true;
      const quoteLine = line;
      i++;
      for (;;) {
        if (i >= text.length) {
          throw new Error(`parseCsv: line ${quoteLine}: quoted field is never closed`);
        }
        const q = text[i];
        if (q === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (q === '\n') line++;
        field += q;
        i++;
      }
      const next = text[i];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
        throw new Error(`parseCsv: line ${line}: unexpected character '${next}' after a closing quote`);
      }
      continue;
    }
    if (ch === ',') {
      started = true;
      fields.push(field);
      field = '';
      i++;
      continue;
    }
    if (ch === '\r' || ch === '\n') {
      endRecord();
      // CRLF is one line break, not two.
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    started = true;
    field += ch;
    i++;
  }
  endRecord();
  return records;
}

/**
 * Writes a header and rows as CSV with LF line ends and a trailing newline.
 * A cell is quoted only when it must be (it holds a comma, quote or line
 * break); null becomes an empty cell.
 *
 * @throws {Error} when a row's length differs from the header's or a number is not finite
 * @example
 * toCsv(['x1', 'note'], [[1.5, 'a,b'], [null, 'ok']]);
 * // => 'x1,note\n1.5,"a,b"\n,ok\n'
 */
export function toCsv(
  columns: readonly string[],
  rows: readonly (readonly (string | number | null)[])[],
): string {
  if (columns.length === 0) {
    throw new Error('toCsv: columns must not be empty');
  }
  const lines = [formatRecord(columns)];
  rows.forEach((row, r) => {
    if (row.length !== columns.length) {
      throw new Error(`toCsv: row ${r + 1} has ${row.length} cells, expected ${columns.length}`);
    }
    const cells = row.map((cell, c) => {
      if (cell === null) return '';
      if (typeof cell === 'number') {
        if (!Number.isFinite(cell)) {
          throw new Error(`toCsv: row ${r + 1} column '${columns[c]}' is ${cell}, not a finite number`);
        }
        return String(cell);
      }
      return cell;
    });
    lines.push(formatRecord(cells));
  });
  return `${lines.join('\n')}\n`;
}

function formatRecord(cells: readonly string[]): string {
  // A single empty cell would print as a blank line, which parseCsv skips;
  // quoting it keeps the row.
  if (cells.length === 1 && cells[0] === '') return '""';
  return cells.map(quoteIfNeeded).join(',');
}

function quoteIfNeeded(cell: string): string {
  return /[",\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

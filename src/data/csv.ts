// A small RFC 4180 CSV reader: quoted fields may hold commas, quotes ("") and line breaks.
// Kinetics labels such as `"passing American football (in game)"` need it.

export interface CsvRow {
  /** 1-based line number where the row starts. */
  line: number;
  fields: string[];
}

/** Parse CSV text into rows (blank lines skipped; a leading byte-order mark dropped). */
export function parseCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  forEachCsvRow(text, (fields, line) => rows.push({ line, fields }));
  return rows;
}

/** Call `onRow` for each row of CSV text, without holding all rows (large annotation files). */
export function forEachCsvRow(text: string, onRow: (fields: string[], line: number) => void): void {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const n = text.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    for (;;) {
      let value: string;
      if (text.charCodeAt(i) === 34 /* " */) {
        let out = '';
        let from = ++i;
        for (;;) {
          const q = text.indexOf('"', from);
          if (q < 0) { out += text.slice(from); i = n; break; } // unterminated: take the rest
          if (text.charCodeAt(q + 1) === 34) { out += text.slice(from, q + 1); from = q + 2; continue; }
          out += text.slice(from, q);
          i = q + 1;
          break;
        }
        for (let k = 0; k < out.length; k++) if (out.charCodeAt(k) === 10) line++;
        // Anything between the closing quote and the next separator is kept, as most readers do.
        let end = i;
        while (end < n && text.charCodeAt(end) !== 44 && text.charCodeAt(end) !== 10 && text.charCodeAt(end) !== 13) end++;
        value = out + text.slice(i, end);
        i = end;
      } else {
        let end = i;
        while (end < n && text.charCodeAt(end) !== 44 && text.charCodeAt(end) !== 10 && text.charCodeAt(end) !== 13) end++;
        value = text.slice(i, end);
        i = end;
      }
      fields.push(value);
      if (i < n && text.charCodeAt(i) === 44) { i++; continue; }
      // End of record: CR, LF or CRLF, or end of text.
      if (i < n && text.charCodeAt(i) === 13) i++;
      if (i < n && text.charCodeAt(i) === 10) i++;
      line++;
      break;
    }
    if (!(fields.length === 1 && fields[0] === '')) onRow(fields, startLine);
  }
}

/**
 * RFC 4180 CSV: CRLF line ends, a field is quoted when it holds a comma, a
 * double quote, CR or LF (quotes doubled inside). Spreadsheets and Python's
 * csv module read it back exactly, including names with commas or newlines.
 */

export type CsvField = string | number | bigint | boolean | null | undefined;

export function csvField(v: CsvField): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(fields: readonly CsvField[]): string {
  return fields.map(csvField).join(',') + '\r\n';
}

/** A header line plus one line per row. */
export function toCsv(header: readonly string[], rows: Iterable<readonly CsvField[]>): string {
  const out = [csvLine(header)];
  for (const r of rows) out.push(csvLine(r));
  return out.join('');
}

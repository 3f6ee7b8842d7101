/** Aligned plain-text tables for people: columns padded to their widest cell. */

import { printable } from '../util/printable.js';

export interface Column {
  header: string;
  /** Right-align (numbers). */
  right?: boolean;
}

/** Cells longer than this are cut with an ellipsis so one long value cannot push every row off screen. */
const MAX_CELL = 60;

export function clip(s: string, max = MAX_CELL): string {
  const one = printable(s);
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[], indent = ''): string {
  const cells = rows.map((r) => r.map((c) => clip(c)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    indent +
    columns
      .map((c, i) => {
        const v = r[i] ?? '';
        return c.right ? v.padStart(widths[i]) : v.padEnd(widths[i]);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

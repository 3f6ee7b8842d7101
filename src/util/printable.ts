/**
 * Text from a plugin (file names, measurement values, meta) as it may be
 * shown on a terminal: control characters (a newline, an escape sequence
 * that would recolour or clear the screen) and the bidirectional overrides
 * that reorder what is shown become visible escapes. Machine formats (JSON,
 * CSV) carry the text unchanged; this is for the tables, lines and error
 * messages people read.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function printable(s: string): string {
  return s.replace(UNPRINTABLE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

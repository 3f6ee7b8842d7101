// Shared helpers for the mlmd-*.test.ts files: temp dirs and independent
// readers (the sqlite3 CLI and Python's sqlite3 module).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mlmd-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Run SQL with the sqlite3 CLI; rows as '|'-separated lines. */
export function sqlite3(file: string, sql: string): string {
  return execFileSync('/usr/bin/sqlite3', ['-batch', file, sql], { encoding: 'utf8' }).trim();
}

/**
 * Run SQL read-only with Python's sqlite3 and return the rows as JSON.
 * Ints go through Python's arbitrary-precision int, printed as strings so
 * JSON.parse cannot round them.
 */
export function pyQuery(file: string, sql: string): unknown[][] {
  const script = `
import sqlite3, sys, json
con = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
rows = con.execute(sys.argv[2]).fetchall()
def enc(v):
    if isinstance(v, bool): return v
    if isinstance(v, int): return {'int': str(v)}
    if isinstance(v, float): return {'real': repr(v)}
    if isinstance(v, bytes): return {'blob': v.hex()}
    return v
print(json.dumps([[enc(v) for v in r] for r in rows]))
`;
  return JSON.parse(execFileSync('python3', ['-c', script, file, sql], { encoding: 'utf8' })) as unknown[][];
}

/** Plain values: ints as bigint, reals as number. */
export function plain(rows: unknown[][]): unknown[][] {
  return rows.map((r) =>
    r.map((v) => {
      if (v && typeof v === 'object' && 'int' in v) return BigInt((v as { int: string }).int);
      if (v && typeof v === 'object' && 'real' in v) return Number((v as { real: string }).real);
      return v;
    }),
  );
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let keep = false;
export function keepTemps(v: boolean): void {
  keep = v;
}

/** A fresh folder under os.tmpdir() for one phase; removed by `fn`'s end unless --keep. */
export async function withTempDir<T>(tag: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `cmfbench-${tag}-`));
  try {
    return await fn(dir);
  } finally {
    if (keep) process.stderr.write(`bench: kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

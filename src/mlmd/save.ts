import { performance } from 'node:perf_hooks';
import type { Database } from 'sql.js';
import { UserError, describeFsError } from '../errors.js';
import { writeFileAtomic } from '../fsutil/atomic.js';
import { fileStamp, sameStamp, type FileStamp } from './stamp.js';
import { MlmdStore } from './store.js';

export interface SaveOptions {
  /** fsync file and directory (default true). */
  fsync?: boolean;
  /**
   * The stamp the file had when loaded or last saved (null = did not exist).
   * If given and the file now differs, another process wrote it: refuse to
   * overwrite (UserError) instead of silently dropping its rows (B09).
   * Best effort: a write landing between this check and the rename is missed.
   */
  expect?: FileStamp | null;
}

export interface SaveResult {
  bytes: number;
  ms: number;
  /** The file's stamp after the save: pass it as `expect` next time. */
  stamp: FileStamp | null;
}

/**
 * Write the whole database to `file` atomically (temp file, fsync, rename,
 * fsync dir): readers see the old or the new file, never a torn one.
 *
 * Takes the MlmdStore (preferred: its transaction depth is checked) or a bare
 * Database. Refuses to run inside an open transaction: sql.js >= 1.15.2
 * throws in export() then, and older versions silently rolled it back (B10).
 */
export async function saveMlmd(target: MlmdStore | Database, file: string, opts: SaveOptions = {}): Promise<SaveResult> {
  const t0 = performance.now();
  const db = target instanceof MlmdStore ? target.db : target;
  if (target instanceof MlmdStore && target.inTransaction) {
    throw new Error('saveMlmd: called while an MlmdStore transaction is open; save only between transactions');
  }
  assertNoOpenTransaction(db);
  if (opts.expect !== undefined) {
    const now = await fileStamp(file);
    if (!sameStamp(opts.expect, now)) {
      throw new UserError(
        `${file} changed on disk since cmf-sage loaded it (another program wrote it); not overwriting it: stop the other writer and restart cmf-sage`,
        2,
      );
    }
  }
  const bytes = db.export();
  try {
    await writeFileAtomic(file, bytes, { fsync: opts.fsync ?? true, label: 'mlmd' });
  } catch (err) {
    throw describeFsError(err, `saving ${file}`);
  }
  const stamp = await fileStamp(file);
  return { bytes: bytes.length, ms: performance.now() - t0, stamp };
}

/**
 * sql.js does not expose sqlite3_get_autocommit; a deferred BEGIN is a cheap
 * probe: it fails only if a transaction is already open.
 */
function assertNoOpenTransaction(db: Database): void {
  try {
    db.exec('BEGIN');
  } catch (err) {
    throw new Error(`saveMlmd: the database has an open transaction (${(err as Error).message}); commit it before saving`);
  }
  db.exec('COMMIT');
}

import { promises as fsp } from 'node:fs';
import type { Database, SqlJsStatic } from 'sql.js';
import { UserError, describeFsError } from '../errors.js';
import { inspectMlmd, notSqliteReason, oneLine } from './inspect.js';
import { createSchema, upsertBuiltinTypes } from './schema.js';
import { getSqlJs } from './sqljs.js';
import { fileStamp, sameStamp, type FileStamp } from './stamp.js';

export interface LoadedMlmd {
  db: Database;
  /** True when the file was missing, empty or an empty SQLite db: a new schema was built in memory. */
  created: boolean;
  SQL: SqlJsStatic;
  /** The file as read (null if missing); pass to saveMlmd's `expect` to detect other writers. */
  stamp: FileStamp | null;
  /** Built-in types that were missing from an existing file and were added in memory. */
  addedBuiltinTypes: number;
}

const JOURNAL_MAGIC = Buffer.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]);
const READ_ATTEMPTS = 4;

/**
 * Load an MLMD SQLite file into memory, refusing (UserError, exit code 2,
 * one line naming the file) anything ml-metadata 1.15 would refuse or that
 * is not MLMD at all. Never writes to the file: a missing or 0-byte file gets
 * a fresh schema in memory only; saving is the caller's decision.
 */
export async function loadMlmd(file: string): Promise<LoadedMlmd> {
  const SQL = await getSqlJs();
  const { bytes, stamp } = await readStable(file);

  if (bytes === null || bytes.length === 0) return fresh(SQL, stamp);

  const notSqlite = notSqliteReason(bytes);
  if (notSqlite) refuse(file, `is not an SQLite database (${notSqlite}); use the path of an MLMD file, or remove this one`);

  // A rollback journal or WAL beside the file means another program's write is in flight or was
  // interrupted: the main file alone may be inconsistent or stale.
  if (await isHotJournal(`${file}-journal`)) {
    refuse(file, `has a hot rollback journal (${file}-journal): another program is writing it or crashed mid-write; let it finish, or open the file once with sqlite3 to recover it, then retry`);
  }
  if (await nonEmpty(`${file}-wal`)) {
    refuse(file, `has a write-ahead log (${file}-wal) not yet merged into it; stop the program using it or run sqlite3 "${file}" "PRAGMA wal_checkpoint(TRUNCATE)", then retry`);
  }
  // WAL-mode header with no log: read it as a rollback-mode file (our own copy only; export writes 1/1 too).
  if (bytes[18] === 2 || bytes[19] === 2) {
    bytes[18] = 1;
    bytes[19] = 1;
  }

  const db = new SQL.Database(bytes);
  try {
    let verdict;
    try {
      configure(db);
      // A torn page can hide anywhere; find it now rather than mid-record.
      const check = db.exec('PRAGMA quick_check')[0]?.values[0]?.[0];
      if (check !== 'ok') throw new Error(String(check));
      verdict = inspectMlmd(db);
    } catch (err) {
      refuse(file, `is a damaged SQLite database (${oneLine(err)}); restore it from a backup or remove it`);
    }
    if (verdict.state === 'refused') refuse(file, verdict.problem);
    if (verdict.state === 'empty') {
      // An SQLite file with no tables at all holds nothing to lose: start a fresh store.
      db.close();
      return fresh(SQL, stamp);
    }
    // The library upserts the nine built-in types on every read-write open; do the same, in memory.
    db.exec('BEGIN');
    let added: number;
    try {
      added = upsertBuiltinTypes(db);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
    return { db, created: false, SQL, stamp, addedBuiltinTypes: added };
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * The database lives in sql.js's in-memory file system, so an on-"disk"
 * rollback journal buys nothing; a memory journal keeps ROLLBACK working and
 * makes each commit ~5x cheaper. It does not change the exported bytes.
 */
function configure(db: Database): Database {
  db.exec('PRAGMA journal_mode = MEMORY');
  return db;
}

function fresh(SQL: SqlJsStatic, stamp: FileStamp | null): LoadedMlmd {
  const db = configure(new SQL.Database());
  createSchema(db);
  return { db, created: true, SQL, stamp, addedBuiltinTypes: 0 };
}

function refuse(file: string, problem: string): never {
  throw new UserError(`${file} ${problem}`.replace(/[\r\n]+/g, ' '), 2);
}

/** Read the whole file; retry if it changed while being read (another writer), so we never parse a torn copy. */
async function readStable(file: string): Promise<{ bytes: Buffer | null; stamp: FileStamp | null }> {
  for (let attempt = 1; ; attempt++) {
    let before: FileStamp | null;
    let bytes: Buffer;
    try {
      before = await fileStamp(file);
      if (before === null) return { bytes: null, stamp: null };
      bytes = await fsp.readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { bytes: null, stamp: null };
      if (code === 'EISDIR') refuse(file, 'is a directory, not an MLMD file; give the path of a file');
      throw describeFsError(err, `reading ${file}`);
    }
    const after = await fileStamp(file);
    if (sameStamp(before, after)) return { bytes, stamp: after };
    if (attempt >= READ_ATTEMPTS) refuse(file, 'kept changing while it was read (another program is writing it); stop the other writer and retry');
    await new Promise((r) => setTimeout(r, 50 * attempt));
  }
}

async function isHotJournal(path: string): Promise<boolean> {
  try {
    const fh = await fsp.open(path, 'r');
    try {
      const head = Buffer.alloc(8);
      const { bytesRead } = await fh.read(head, 0, 8, 0);
      return bytesRead === 8 && head.equals(JOURNAL_MAGIC);
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

async function nonEmpty(path: string): Promise<boolean> {
  try {
    return (await fsp.stat(path)).size > 0;
  } catch {
    return false;
  }
}

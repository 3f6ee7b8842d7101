import { promises as fsp } from 'node:fs';
import type { Database } from 'sql.js';
import { UserError, describeFsError } from '../errors.js';
import { getSqlJs, inspectMlmd, SCHEMA_VERSION } from '../mlmd/index.js';
import { notSqliteReason, oneLine } from '../mlmd/inspect.js';
import { segmentMlmdGone } from '../recorder/segment.js';
import { FileReadError } from './reader.js';

/**
 * Load an MLMD file for reading only. Unlike loadMlmd (the writer's loader)
 * it skips the whole-file integrity scan, which reads every page (about a
 * second per 100,000 results) and would dominate every query; a damaged page
 * met later is reported by `damagedFileError`. It refuses the same files
 * loadMlmd refuses (not SQLite, not MLMD, another schema version, a hot
 * journal or WAL), with one line naming the file (exit 2).
 *
 * The file is read once through one descriptor: `watch` replaces the mlmd by
 * rename, so the read sees the old or the new file, never a mix.
 */
export interface ReadOptions {
  /**
   * A kept segment, sealed by cmf-sage from its own store: only its MLMD
   * schema version is checked. The full inspection (every table's columns)
   * costs ~2 ms a file, as much as querying a segment; a file that fails
   * the short check still gets the full one, and its message.
   */
  sealed?: boolean;
  /**
   * Read the file into this buffer (grown as needed) instead of a new one.
   * sql.js keeps using the bytes while the database is open (its in-memory
   * file is a view of them), so only a caller that closes each database
   * before reading the next may pass one.
   */
  reuse?: ReadBuffer;
}

/** One buffer for files read one after another (see ReadOptions.reuse). */
export class ReadBuffer {
  buf: Buffer = Buffer.alloc(0);
}

export async function readMlmdForQuery(file: string, o: ReadOptions = {}): Promise<Database> {
  // Instantiate sql.js while the file is read: both take ~100 ms on a 100k-result mlmd.
  const sqlJs = getSqlJs();
  sqlJs.catch(() => undefined); // a failure is reported where it is awaited, not as an unhandled rejection
  let bytes: Buffer;
  try {
    bytes = await readWhole(file, o.reuse);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (o.sealed && (code === 'ENOENT' || code === 'EISDIR')) refuse(file, segmentMlmdGone(file, code === 'ENOENT' ? 'missing' : 'not a file', 'read'));
    if (code === 'ENOENT') refuse(file, 'does not exist; pass an MLMD (SQLite) file');
    if (code === 'EISDIR') refuse(file, 'is a directory, not an MLMD file');
    throw describeFsError(err, `reading ${file}`);
  }
  if (bytes.length === 0) refuse(file, 'is empty: it holds no MLMD store to read');
  const notSqlite = notSqliteReason(bytes);
  if (notSqlite) refuse(file, `is not an SQLite database (${notSqlite}), so not an MLMD file`);
  if (await isHotJournal(`${file}-journal`)) {
    refuse(file, `has a rollback journal (${file}-journal): another program is writing it or crashed mid-write; let it finish, or open it once with sqlite3 to recover it`);
  }
  if (await nonEmpty(`${file}-wal`)) {
    refuse(file, `has a write-ahead log (${file}-wal) not merged into it; run sqlite3 "${file}" "PRAGMA wal_checkpoint(TRUNCATE)" first`);
  }
  // A WAL-mode header with no log reads as a rollback-mode file (this copy only).
  if (bytes[18] === 2 || bytes[19] === 2) {
    bytes[18] = 1;
    bytes[19] = 1;
  }
  const SQL = await sqlJs;
  const db = new SQL.Database(bytes);
  try {
    let verdict;
    try {
      // The default 2 MB page cache makes a query over 100k results re-read its pages from sql.js's
      // in-memory file many times; 64 MB holds what such a query touches.
      db.exec('PRAGMA cache_size = -65536');
      verdict = o.sealed && isSchemaVersion(db) ? ({ state: 'mlmd' } as const) : inspectMlmd(db);
    } catch (err) {
      refuse(file, `is a damaged SQLite database (${oneLine(err)})`);
    }
    if (verdict.state === 'empty') refuse(file, 'is an SQLite database with no tables: it holds no MLMD store');
    if (verdict.state === 'refused') refuse(file, verdict.problem);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function isSchemaVersion(db: Database): boolean {
  try {
    return db.exec('SELECT schema_version FROM MLMDEnv')[0]?.values.map((r) => r[0]).join() === String(SCHEMA_VERSION);
  } catch {
    return false;
  }
}

/** SQLite's words for a damaged page, met mid-query. */
export function damagedFileError(err: unknown, files: string): UserError | undefined {
  if (err instanceof FileReadError) files = err.file;
  const msg = err instanceof Error ? err.message : String(err);
  // A kept segment is only version-checked on open (ReadOptions.sealed): a table or column missing there surfaces here.
  if (/no such (table|column)/i.test(msg)) {
    return new UserError(`${files}: not a complete MLMD v${SCHEMA_VERSION} store (${oneLine(err)}); restore the file from a backup or move it away`, 2);
  }
  if (!/malformed|corrupt|SQLITE_CORRUPT|not a database/i.test(msg)) return undefined;
  return new UserError(`${files}: damaged SQLite data (${oneLine(err)}); check it with sqlite3 FILE "PRAGMA integrity_check" and restore it from a backup`, 2);
}

/** One read into a buffer of the file's size: a third faster than readFile's chunked reads on a 200 MB mlmd. */
async function readWhole(file: string, reuse?: ReadBuffer): Promise<Buffer> {
  const fh = await fsp.open(file, 'r');
  try {
    const { size } = await fh.stat();
    // A fresh buffer per file costs more than the read (page faults, and external memory that
    // pushes V8 towards full collections while a query reads dozens of segments).
    if (reuse && reuse.buf.length < size) reuse.buf = Buffer.allocUnsafe(Math.ceil(size * 1.25));
    const buf = reuse ? reuse.buf : Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(buf, off, size - off, off);
      if (bytesRead === 0) break; // truncated meanwhile: parse what is there, SQLite will say if it is broken
      off += bytesRead;
    }
    return off === buf.length ? buf : buf.subarray(0, off);
  } finally {
    await fh.close();
  }
}

function refuse(file: string, problem: string): never {
  throw new UserError(`${file} ${problem}`.replace(/[\r\n]+/g, ' '), 2);
}

const JOURNAL_MAGIC = Buffer.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]);

/** A rollback journal whose header is intact: a write is in flight or was interrupted. */
async function isHotJournal(path: string): Promise<boolean> {
  const fh = await fsp.open(path, 'r').catch(() => undefined);
  if (!fh) return false;
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, 8, 0);
    return bytesRead === 8 && head.equals(JOURNAL_MAGIC);
  } finally {
    await fh.close();
  }
}

async function nonEmpty(path: string): Promise<boolean> {
  return fsp.stat(path).then((s) => s.size > 0, () => false);
}

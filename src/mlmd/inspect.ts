import type { Database } from 'sql.js';
import { REQUIRED_COLUMNS, SCHEMA_VERSION, TABLES } from './schema.js';

const SQLITE_MAGIC = 'SQLite format 3\0';
const UPGRADE_HINT = "upgrade it with ml-metadata's migration (enable_upgrade_migration) first";
const RESTORE_HINT = 'restore it from a backup, or move it away if it holds nothing you need';

/** True if the bytes start with the 16-byte SQLite header. */
export function isSqliteBytes(bytes: Uint8Array): boolean {
  return bytes.length >= 100 && Buffer.from(bytes.subarray(0, 16)).toString('latin1') === SQLITE_MAGIC;
}

/** Why these bytes are not an SQLite database (for the message), or undefined if they are. */
export function notSqliteReason(bytes: Uint8Array): string | undefined {
  if (isSqliteBytes(bytes)) return undefined;
  const head = Buffer.from(bytes.subarray(0, 64)).toString('latin1');
  if (head.startsWith('version https://git-lfs.github.com/spec/')) return 'it is a Git LFS pointer; run git lfs pull to fetch the real file';
  if (bytes.length < 100 && head.startsWith('SQLite format 3')) return `it is truncated to ${bytes.length} bytes`;
  return `no SQLite header; ${bytes.length} bytes`;
}

/**
 * What an SQLite database holds, judged as ml-metadata 1.15 judges it on open
 * (research §1.3). `problem` is the rest of a one-line message after the file
 * name; nothing here modifies the database.
 */
export type Inspection =
  | { state: 'mlmd' }
  | { state: 'empty' } // no schema objects at all: safe to initialise
  | { state: 'refused'; problem: string };

export function inspectMlmd(db: Database): Inspection {
  const objects = db.exec("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'");
  const rows = objects[0]?.values ?? [];
  if (rows.length === 0) return { state: 'empty' };
  const tableNames = rows.filter((r) => r[0] === 'table').map((r) => String(r[1]));
  const tables = new Set(tableNames.map((n) => n.toLowerCase())); // SQLite table names ignore case
  const mlmdPresent = TABLES.filter((t) => tables.has(t.toLowerCase()));

  if (!tables.has('mlmdenv')) {
    // The library probes for the pre-MLMDEnv layout (v0.13.2) before giving up.
    if (probe(db, 'SELECT Type.is_artifact_type FROM Artifact, Event, Execution, Type, ArtifactProperty, EventPath, ExecutionProperty, TypeProperty LIMIT 1')) {
      return { state: 'refused', problem: `is an MLMD store of schema version 0 (ml-metadata 0.13), older than ${SCHEMA_VERSION}; ${UPGRADE_HINT}` };
    }
    if (mlmdPresent.length === 0) {
      const names = tableNames.slice(0, 5).join(', ') + (tableNames.length > 5 ? ', …' : '') || 'no tables';
      return { state: 'refused', problem: `is an SQLite database but not an MLMD store (it holds ${names}); give the path of an MLMD file instead` };
    }
    return {
      state: 'refused',
      problem: `is not an MLMD store: it has MLMD tables (${mlmdPresent.slice(0, 4).join(', ')}…) but no MLMDEnv table (half-initialised); ${RESTORE_HINT}`,
    };
  }

  let versions: unknown[];
  try {
    versions = (db.exec('SELECT schema_version FROM MLMDEnv')[0]?.values ?? []).map((r) => r[0]);
  } catch (err) {
    return { state: 'refused', problem: `has an unreadable MLMDEnv table (${oneLine(err)}); ${RESTORE_HINT}` };
  }
  if (versions.length === 0) {
    return { state: 'refused', problem: `has an MLMDEnv table but the schema version is missing (half-initialised MLMD store); ${RESTORE_HINT}` };
  }
  if (versions.length > 1) {
    return {
      state: 'refused',
      problem: `has more than one schema version in MLMDEnv (${versions.join(', ')}); the store is damaged: restore it from a backup`,
    };
  }
  const v = versions[0];
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    return { state: 'refused', problem: `has a schema version that is not an integer (${String(v)}); ${RESTORE_HINT}` };
  }
  if (v > SCHEMA_VERSION) {
    return {
      state: 'refused',
      problem: `has MLMD schema version ${v}, which is newer than ${SCHEMA_VERSION} (the version cmf-sage writes); use it with a newer ml-metadata, or use another file`,
    };
  }
  if (v < SCHEMA_VERSION) {
    return { state: 'refused', problem: `has MLMD schema version ${v}, which is older than ${SCHEMA_VERSION}; ${UPGRADE_HINT}` };
  }

  // Version 10: every table must carry the columns the library's checks and reads use.
  const missingTables = TABLES.filter((t) => !tables.has(t.toLowerCase()));
  if (missingTables.length > 0) {
    return {
      state: 'refused',
      problem: `is an MLMD v${SCHEMA_VERSION} store with missing tables (${missingTables.join(', ')}); ${RESTORE_HINT}`,
    };
  }
  // Every table's columns in one statement (a query opens dozens of segment files, each inspected).
  const columns = new Map<string, Set<string>>();
  for (const [table, col] of db.exec("SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'")[0]?.values ?? []) {
    const key = String(table).toLowerCase();
    if (!columns.has(key)) columns.set(key, new Set());
    columns.get(key)!.add(String(col));
  }
  for (const t of TABLES) {
    // Exact, case-sensitive names: the library maps result columns by exact name.
    const cols = columns.get(t.toLowerCase()) ?? new Set<string>();
    const missing = REQUIRED_COLUMNS[t].filter((c) => !cols.has(c));
    if (missing.length > 0) {
      return {
        state: 'refused',
        problem: `is an MLMD v${SCHEMA_VERSION} store but table ${t} lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; ${RESTORE_HINT}`,
      };
    }
  }
  return { state: 'mlmd' };
}

function probe(db: Database, sql: string): boolean {
  try {
    db.exec(sql);
    return true;
  } catch {
    return false;
  }
}

/** An error text folded onto one line. */
export function oneLine(err: unknown): string {
  const s = err instanceof Error ? err.message : String(err);
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

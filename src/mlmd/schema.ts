import type { Database } from 'sql.js';
import { TypeKind } from './enums.js';

export { PropertyType, TypeKind, EventType, ExecutionState, ArtifactState } from './enums.js';

/**
 * The MLMD schema version 10 for SQLite, as ml-metadata 1.11–1.17 creates it
 * (see /work/shared/research/mlmd-schema.md §2). Column names must stay
 * exactly lower-case: the library maps result columns by exact name.
 */
export const SCHEMA_VERSION = 10;

/** The 15 MLMD tables, in creation order. */
export const TABLES = [
  'Type',
  'TypeProperty',
  'ParentType',
  'Artifact',
  'ArtifactProperty',
  'Execution',
  'ExecutionProperty',
  'Event',
  'EventPath',
  'MLMDEnv',
  'Context',
  'ContextProperty',
  'ParentContext',
  'Association',
  'Attribution',
] as const;
export type TableName = (typeof TABLES)[number];

const PROPERTY_COLUMNS = (node: string): string => `
  ${node}_id INT NOT NULL,
  name VARCHAR(255) NOT NULL,
  is_custom_property TINYINT(1) NOT NULL,
  int_value INT,
  double_value DOUBLE,
  string_value TEXT,
  byte_value BLOB,
  proto_value BLOB,
  bool_value BOOLEAN,
  PRIMARY KEY (${node}_id, name, is_custom_property)`;

/** CREATE TABLE statements, keyed by table; order follows TABLES. */
export const CREATE_TABLE: Record<TableName, string> = {
  Type: `CREATE TABLE IF NOT EXISTS Type (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name VARCHAR(255) NOT NULL,
  version VARCHAR(255),
  type_kind TINYINT(1) NOT NULL,
  description TEXT,
  input_type TEXT,
  output_type TEXT,
  external_id VARCHAR(255) UNIQUE)`,
  TypeProperty: `CREATE TABLE IF NOT EXISTS TypeProperty (
  type_id INT NOT NULL,
  name VARCHAR(255) NOT NULL,
  data_type INT NULL,
  PRIMARY KEY (type_id, name))`,
  ParentType: `CREATE TABLE IF NOT EXISTS ParentType (
  type_id INT NOT NULL,
  parent_type_id INT NOT NULL,
  PRIMARY KEY (type_id, parent_type_id))`,
  Artifact: `CREATE TABLE IF NOT EXISTS Artifact (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type_id INT NOT NULL,
  uri TEXT,
  state INT,
  name VARCHAR(255),
  external_id VARCHAR(255) UNIQUE,
  create_time_since_epoch INT NOT NULL DEFAULT 0,
  last_update_time_since_epoch INT NOT NULL DEFAULT 0,
  UNIQUE (type_id, name))`,
  ArtifactProperty: `CREATE TABLE IF NOT EXISTS ArtifactProperty (${PROPERTY_COLUMNS('artifact')})`,
  Execution: `CREATE TABLE IF NOT EXISTS Execution (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type_id INT NOT NULL,
  last_known_state INT,
  name VARCHAR(255),
  external_id VARCHAR(255) UNIQUE,
  create_time_since_epoch INT NOT NULL DEFAULT 0,
  last_update_time_since_epoch INT NOT NULL DEFAULT 0,
  UNIQUE (type_id, name))`,
  ExecutionProperty: `CREATE TABLE IF NOT EXISTS ExecutionProperty (${PROPERTY_COLUMNS('execution')})`,
  Event: `CREATE TABLE IF NOT EXISTS Event (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  artifact_id INT NOT NULL,
  execution_id INT NOT NULL,
  type INT NOT NULL,
  milliseconds_since_epoch INT,
  UNIQUE (artifact_id, execution_id, type))`,
  EventPath: `CREATE TABLE IF NOT EXISTS EventPath (
  event_id INT NOT NULL,
  is_index_step TINYINT(1) NOT NULL,
  step_index INT,
  step_key TEXT)`,
  MLMDEnv: `CREATE TABLE IF NOT EXISTS MLMDEnv (
  schema_version INTEGER PRIMARY KEY)`,
  Context: `CREATE TABLE IF NOT EXISTS Context (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type_id INT NOT NULL,
  name VARCHAR(255) NOT NULL,
  external_id VARCHAR(255) UNIQUE,
  create_time_since_epoch INT NOT NULL DEFAULT 0,
  last_update_time_since_epoch INT NOT NULL DEFAULT 0,
  UNIQUE (type_id, name))`,
  ContextProperty: `CREATE TABLE IF NOT EXISTS ContextProperty (${PROPERTY_COLUMNS('context')})`,
  ParentContext: `CREATE TABLE IF NOT EXISTS ParentContext (
  context_id INT NOT NULL,
  parent_context_id INT NOT NULL,
  PRIMARY KEY (context_id, parent_context_id))`,
  Association: `CREATE TABLE IF NOT EXISTS Association (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  context_id INT NOT NULL,
  execution_id INT NOT NULL,
  UNIQUE (context_id, execution_id))`,
  Attribution: `CREATE TABLE IF NOT EXISTS Attribution (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  context_id INT NOT NULL,
  artifact_id INT NOT NULL,
  UNIQUE (context_id, artifact_id))`,
};

const PROPERTY_CHECK = ['name', 'is_custom_property', 'int_value', 'double_value', 'string_value', 'byte_value', 'proto_value', 'bool_value'];

/**
 * The columns the library's check_*_table queries select at every open
 * (research §5.1), plus the external_id columns its reads need.
 */
export const REQUIRED_COLUMNS: Record<TableName, readonly string[]> = {
  Type: ['id', 'name', 'version', 'type_kind', 'description', 'input_type', 'output_type', 'external_id'],
  TypeProperty: ['type_id', 'name', 'data_type'],
  ParentType: ['type_id', 'parent_type_id'],
  Artifact: ['id', 'type_id', 'uri', 'state', 'name', 'external_id', 'create_time_since_epoch', 'last_update_time_since_epoch'],
  ArtifactProperty: ['artifact_id', ...PROPERTY_CHECK],
  Execution: ['id', 'type_id', 'last_known_state', 'name', 'external_id', 'create_time_since_epoch', 'last_update_time_since_epoch'],
  ExecutionProperty: ['execution_id', ...PROPERTY_CHECK],
  Event: ['id', 'artifact_id', 'execution_id', 'type', 'milliseconds_since_epoch'],
  EventPath: ['event_id', 'is_index_step', 'step_index', 'step_key'],
  MLMDEnv: ['schema_version'],
  Context: ['id', 'type_id', 'name', 'external_id', 'create_time_since_epoch', 'last_update_time_since_epoch'],
  ContextProperty: ['context_id', ...PROPERTY_CHECK],
  ParentContext: ['context_id', 'parent_context_id'],
  Association: ['id', 'context_id', 'execution_id'],
  Attribution: ['id', 'context_id', 'artifact_id'],
};

interface IndexSpec {
  name: string;
  table: TableName;
  columns: string;
  where?: string;
}

const propertyIndexes = (node: 'artifact' | 'execution' | 'context', table: TableName): IndexSpec[] =>
  (['int', 'double', 'string'] as const).map((k) => ({
    name: `idx_${node}_property_${k}`,
    table,
    columns: `name, is_custom_property, ${k}_value`,
    where: `${k}_value IS NOT NULL`,
  }));

/** The 24 named secondary indexes, in the library's creation order (research §2.1 table; its prose says 23, but 24 + 16 autoindexes = the 40 the library verifies). */
const INDEXES: IndexSpec[] = [
  { name: 'idx_artifact_uri', table: 'Artifact', columns: 'uri' },
  { name: 'idx_artifact_create_time_since_epoch', table: 'Artifact', columns: 'create_time_since_epoch' },
  { name: 'idx_artifact_last_update_time_since_epoch', table: 'Artifact', columns: 'last_update_time_since_epoch' },
  { name: 'idx_event_execution_id', table: 'Event', columns: 'execution_id' },
  { name: 'idx_parentcontext_parent_context_id', table: 'ParentContext', columns: 'parent_context_id' },
  { name: 'idx_type_name', table: 'Type', columns: 'name' },
  { name: 'idx_execution_create_time_since_epoch', table: 'Execution', columns: 'create_time_since_epoch' },
  { name: 'idx_execution_last_update_time_since_epoch', table: 'Execution', columns: 'last_update_time_since_epoch' },
  { name: 'idx_context_create_time_since_epoch', table: 'Context', columns: 'create_time_since_epoch' },
  { name: 'idx_context_last_update_time_since_epoch', table: 'Context', columns: 'last_update_time_since_epoch' },
  { name: 'idx_eventpath_event_id', table: 'EventPath', columns: 'event_id' },
  ...propertyIndexes('artifact', 'ArtifactProperty'),
  ...propertyIndexes('execution', 'ExecutionProperty'),
  ...propertyIndexes('context', 'ContextProperty'),
  { name: 'idx_type_external_id', table: 'Type', columns: 'external_id' },
  { name: 'idx_artifact_external_id', table: 'Artifact', columns: 'external_id' },
  { name: 'idx_execution_external_id', table: 'Execution', columns: 'external_id' },
  { name: 'idx_context_external_id', table: 'Context', columns: 'external_id' },
];

export const INDEX_NAMES: readonly string[] = INDEXES.map((i) => i.name);

/** Named plus sqlite_autoindex_* indexes a library-made v10 file has. */
export const TOTAL_INDEX_COUNT = 40;

export const CREATE_INDEX: readonly string[] = INDEXES.map(
  (i) => `CREATE INDEX IF NOT EXISTS ${i.name} ON ${i.table} (${i.columns})${i.where ? ` WHERE ${i.where}` : ''}`,
);

/** The nine built-in ("simple") types, ids 1–9 on a new store, in this order. */
export const BUILTIN_TYPES: readonly { name: string; kind: TypeKind }[] = [
  { name: 'mlmd.Dataset', kind: TypeKind.ARTIFACT },
  { name: 'mlmd.Model', kind: TypeKind.ARTIFACT },
  { name: 'mlmd.Metrics', kind: TypeKind.ARTIFACT },
  { name: 'mlmd.Statistics', kind: TypeKind.ARTIFACT },
  { name: 'mlmd.Train', kind: TypeKind.EXECUTION },
  { name: 'mlmd.Transform', kind: TypeKind.EXECUTION },
  { name: 'mlmd.Process', kind: TypeKind.EXECUTION },
  { name: 'mlmd.Evaluate', kind: TypeKind.EXECUTION },
  { name: 'mlmd.Deploy', kind: TypeKind.EXECUTION },
];

/**
 * Insert the built-in types that are missing (matched on name, NULL version
 * and kind, as the library's UpsertSimpleTypes does). Returns how many were
 * added. Runs inside the caller's transaction, if any.
 */
export function upsertBuiltinTypes(db: Database): number {
  const find = db.prepare('SELECT id FROM Type WHERE name = ? AND version IS NULL AND type_kind = ? LIMIT 1');
  const insert = db.prepare('INSERT INTO Type (name, type_kind) VALUES (?, ?)');
  let added = 0;
  try {
    for (const t of BUILTIN_TYPES) {
      find.bind([t.name, t.kind]);
      const found = find.step();
      find.reset();
      if (found) continue;
      insert.run([t.name, t.kind]);
      added++;
    }
  } finally {
    find.free();
    insert.free();
  }
  return added;
}

/**
 * Create the full v10 schema on an empty database in one transaction: tables,
 * named indexes, the MLMDEnv row, then the nine built-in types. A failure
 * leaves the database as it was.
 */
export function createSchema(db: Database): void {
  db.exec('BEGIN');
  try {
    for (const t of TABLES) db.exec(CREATE_TABLE[t]);
    for (const ddl of CREATE_INDEX) db.exec(ddl);
    db.exec(`INSERT INTO MLMDEnv (schema_version) VALUES (${SCHEMA_VERSION})`);
    upsertBuiltinTypes(db);
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

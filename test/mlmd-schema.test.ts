import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { INDEX_NAMES, MlmdStore, SCHEMA_VERSION, TABLES, loadMlmd, saveMlmd } from '../src/mlmd/index.js';
import { plain, pyQuery, sqlite3, tempDir } from './mlmd-helpers.js';

// Expected layout, copied from the research notes (mlmd-schema.md §2.1, §2.2,
// §5.1, §6), not from the code under test.
const PROPS = (id: string) => [
  [id, 'INT', 1, 1],
  ['name', 'VARCHAR(255)', 1, 2],
  ['is_custom_property', 'TINYINT(1)', 1, 3],
  ['int_value', 'INT', 0, 0],
  ['double_value', 'DOUBLE', 0, 0],
  ['string_value', 'TEXT', 0, 0],
  ['byte_value', 'BLOB', 0, 0],
  ['proto_value', 'BLOB', 0, 0],
  ['bool_value', 'BOOLEAN', 0, 0],
];
// [name, declared type, notnull, pk position]
const COLUMNS: Record<string, (string | number)[][]> = {
  Type: [
    ['id', 'INTEGER', 0, 1],
    ['name', 'VARCHAR(255)', 1, 0],
    ['version', 'VARCHAR(255)', 0, 0],
    ['type_kind', 'TINYINT(1)', 1, 0],
    ['description', 'TEXT', 0, 0],
    ['input_type', 'TEXT', 0, 0],
    ['output_type', 'TEXT', 0, 0],
    ['external_id', 'VARCHAR(255)', 0, 0],
  ],
  TypeProperty: [
    ['type_id', 'INT', 1, 1],
    ['name', 'VARCHAR(255)', 1, 2],
    ['data_type', 'INT', 0, 0],
  ],
  ParentType: [
    ['type_id', 'INT', 1, 1],
    ['parent_type_id', 'INT', 1, 2],
  ],
  Artifact: [
    ['id', 'INTEGER', 0, 1],
    ['type_id', 'INT', 1, 0],
    ['uri', 'TEXT', 0, 0],
    ['state', 'INT', 0, 0],
    ['name', 'VARCHAR(255)', 0, 0],
    ['external_id', 'VARCHAR(255)', 0, 0],
    ['create_time_since_epoch', 'INT', 1, 0],
    ['last_update_time_since_epoch', 'INT', 1, 0],
  ],
  ArtifactProperty: PROPS('artifact_id'),
  Execution: [
    ['id', 'INTEGER', 0, 1],
    ['type_id', 'INT', 1, 0],
    ['last_known_state', 'INT', 0, 0],
    ['name', 'VARCHAR(255)', 0, 0],
    ['external_id', 'VARCHAR(255)', 0, 0],
    ['create_time_since_epoch', 'INT', 1, 0],
    ['last_update_time_since_epoch', 'INT', 1, 0],
  ],
  ExecutionProperty: PROPS('execution_id'),
  Event: [
    ['id', 'INTEGER', 0, 1],
    ['artifact_id', 'INT', 1, 0],
    ['execution_id', 'INT', 1, 0],
    ['type', 'INT', 1, 0],
    ['milliseconds_since_epoch', 'INT', 0, 0],
  ],
  EventPath: [
    ['event_id', 'INT', 1, 0],
    ['is_index_step', 'TINYINT(1)', 1, 0],
    ['step_index', 'INT', 0, 0],
    ['step_key', 'TEXT', 0, 0],
  ],
  MLMDEnv: [['schema_version', 'INTEGER', 0, 1]],
  Context: [
    ['id', 'INTEGER', 0, 1],
    ['type_id', 'INT', 1, 0],
    ['name', 'VARCHAR(255)', 1, 0],
    ['external_id', 'VARCHAR(255)', 0, 0],
    ['create_time_since_epoch', 'INT', 1, 0],
    ['last_update_time_since_epoch', 'INT', 1, 0],
  ],
  ContextProperty: PROPS('context_id'),
  ParentContext: [
    ['context_id', 'INT', 1, 1],
    ['parent_context_id', 'INT', 1, 2],
  ],
  Association: [
    ['id', 'INTEGER', 0, 1],
    ['context_id', 'INT', 1, 0],
    ['execution_id', 'INT', 1, 0],
  ],
  Attribution: [
    ['id', 'INTEGER', 0, 1],
    ['context_id', 'INT', 1, 0],
    ['artifact_id', 'INT', 1, 0],
  ],
};

const CHECK_QUERIES = [
  'SELECT id, name, version, type_kind, description, input_type, output_type FROM Type LIMIT 1',
  'SELECT type_id, parent_type_id FROM ParentType LIMIT 1',
  'SELECT type_id, name, data_type FROM TypeProperty LIMIT 1',
  'SELECT id, type_id, uri, state, name, create_time_since_epoch, last_update_time_since_epoch FROM Artifact LIMIT 1',
  ...['artifact', 'execution', 'context'].map(
    (n) =>
      `SELECT ${n}_id, name, is_custom_property, int_value, double_value, string_value, byte_value, proto_value, bool_value FROM ${n[0]!.toUpperCase()}${n.slice(1)}Property LIMIT 1`,
  ),
  'SELECT id, type_id, last_known_state, name, create_time_since_epoch, last_update_time_since_epoch FROM Execution LIMIT 1',
  'SELECT id, artifact_id, execution_id, type, milliseconds_since_epoch FROM Event LIMIT 1',
  'SELECT event_id, is_index_step, step_index, step_key FROM EventPath LIMIT 1',
  'SELECT schema_version FROM MLMDEnv LIMIT 1',
  'SELECT id, type_id, name, create_time_since_epoch, last_update_time_since_epoch FROM Context LIMIT 1',
  'SELECT context_id, parent_context_id FROM ParentContext LIMIT 1',
  'SELECT id, context_id, execution_id FROM Association LIMIT 1',
  'SELECT id, context_id, artifact_id FROM Attribution LIMIT 1',
  'SELECT external_id FROM Type, Artifact, Execution, Context LIMIT 1'.replace('external_id', 'Type.external_id, Artifact.external_id, Execution.external_id, Context.external_id'),
];

// [name, table, columns, partial]
const INDEXES: [string, string, string[], boolean][] = [
  ['idx_artifact_uri', 'Artifact', ['uri'], false],
  ['idx_artifact_create_time_since_epoch', 'Artifact', ['create_time_since_epoch'], false],
  ['idx_artifact_last_update_time_since_epoch', 'Artifact', ['last_update_time_since_epoch'], false],
  ['idx_event_execution_id', 'Event', ['execution_id'], false],
  ['idx_parentcontext_parent_context_id', 'ParentContext', ['parent_context_id'], false],
  ['idx_type_name', 'Type', ['name'], false],
  ['idx_execution_create_time_since_epoch', 'Execution', ['create_time_since_epoch'], false],
  ['idx_execution_last_update_time_since_epoch', 'Execution', ['last_update_time_since_epoch'], false],
  ['idx_context_create_time_since_epoch', 'Context', ['create_time_since_epoch'], false],
  ['idx_context_last_update_time_since_epoch', 'Context', ['last_update_time_since_epoch'], false],
  ['idx_eventpath_event_id', 'EventPath', ['event_id'], false],
  ...(['artifact', 'execution', 'context'] as const).flatMap((n) =>
    (['int', 'double', 'string'] as const).map(
      (k): [string, string, string[], boolean] => [
        `idx_${n}_property_${k}`,
        `${n[0]!.toUpperCase()}${n.slice(1)}Property`,
        ['name', 'is_custom_property', `${k}_value`],
        true,
      ],
    ),
  ),
  ['idx_type_external_id', 'Type', ['external_id'], false],
  ['idx_artifact_external_id', 'Artifact', ['external_id'], false],
  ['idx_execution_external_id', 'Execution', ['external_id'], false],
  ['idx_context_external_id', 'Context', ['external_id'], false],
];

async function freshFile(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const file = path.join(tempDir(t), 'mlmd');
  const { db, created } = await loadMlmd(file);
  assert.equal(created, true);
  await saveMlmd(new MlmdStore(db), file);
  return file;
}

test('fresh file: exactly the 15 tables plus sqlite_sequence', async (t) => {
  const file = await freshFile(t);
  const tables = sqlite3(file, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").split('\n');
  assert.deepEqual(tables, [...Object.keys(COLUMNS), 'sqlite_sequence'].sort());
  assert.equal(sqlite3(file, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"), '15');
  assert.equal(TABLES.length, 15);
  assert.equal(sqlite3(file, "SELECT count(*) FROM sqlite_master WHERE type NOT IN ('table','index')"), '0');
});

test('fresh file: columns, declared types, NOT NULL and keys match schema 10', async (t) => {
  const file = await freshFile(t);
  for (const [table, expected] of Object.entries(COLUMNS)) {
    const rows = plain(pyQuery(file, `SELECT name, type, "notnull", pk FROM pragma_table_info('${table}') ORDER BY cid`));
    assert.deepEqual(
      rows,
      expected.map(([n, ty, nn, pk]) => [n, ty, BigInt(nn!), BigInt(pk!)]),
      `columns of ${table}`,
    );
  }
  // AUTOINCREMENT tables and the UNIQUE constraints, through the autoindexes SQLite made for them.
  const auto = sqlite3(file, "SELECT name FROM sqlite_master WHERE type='index' AND name LIKE 'sqlite_autoindex_%' ORDER BY name").split('\n');
  assert.deepEqual(auto, [
    'sqlite_autoindex_Artifact_1', 'sqlite_autoindex_Artifact_2', 'sqlite_autoindex_ArtifactProperty_1',
    'sqlite_autoindex_Association_1', 'sqlite_autoindex_Attribution_1', 'sqlite_autoindex_Context_1',
    'sqlite_autoindex_Context_2', 'sqlite_autoindex_ContextProperty_1', 'sqlite_autoindex_Event_1',
    'sqlite_autoindex_Execution_1', 'sqlite_autoindex_Execution_2', 'sqlite_autoindex_ExecutionProperty_1',
    'sqlite_autoindex_ParentContext_1', 'sqlite_autoindex_ParentType_1', 'sqlite_autoindex_Type_1',
    'sqlite_autoindex_TypeProperty_1',
  ].sort());
  const cols = (idx: string) => sqlite3(file, `SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info('${idx}') ORDER BY seqno)`);
  assert.equal(cols('sqlite_autoindex_Artifact_1'), 'external_id');
  assert.equal(cols('sqlite_autoindex_Artifact_2'), 'type_id,name');
  assert.equal(cols('sqlite_autoindex_Event_1'), 'artifact_id,execution_id,type');
  assert.equal(cols('sqlite_autoindex_Context_2'), 'type_id,name');
  const unique = sqlite3(file, "SELECT \"unique\" FROM pragma_index_list('Event') WHERE name='sqlite_autoindex_Event_1'");
  assert.equal(unique, '1');
  for (const tbl of ['Type', 'Artifact', 'Execution', 'Event', 'Context', 'Association', 'Attribution']) {
    assert.match(sqlite3(file, `SELECT sql FROM sqlite_master WHERE name='${tbl}'`), /AUTOINCREMENT/, tbl);
  }
});

test('fresh file: 40 indexes, the 24 named ones on the right columns, partial where documented', async (t) => {
  const file = await freshFile(t);
  // 40 = 24 named + 16 sqlite_autoindex_*. (The research prose says "23 named + 17 automatic", but its own
  // tables list 24 named and 16 automatic indexes; the library's check is the total of 40.)
  assert.equal(sqlite3(file, "SELECT count(*) FROM sqlite_master WHERE type='index'"), '40');
  assert.equal(INDEXES.length, 24);
  assert.equal(sqlite3(file, "SELECT count(*) FROM sqlite_master WHERE type='index' AND name LIKE 'sqlite_autoindex_%'"), '16');
  const named = sqlite3(file, "SELECT name FROM sqlite_master WHERE type='index' AND name NOT LIKE 'sqlite_%' ORDER BY rowid").split('\n');
  assert.deepEqual(named, INDEXES.map((i) => i[0]), 'names in creation order');
  assert.deepEqual([...INDEX_NAMES], INDEXES.map((i) => i[0]));
  for (const [name, table, columns, partial] of INDEXES) {
    assert.equal(sqlite3(file, `SELECT tbl_name FROM sqlite_master WHERE name='${name}'`), table, name);
    const got = pyQuery(file, `SELECT name FROM pragma_index_info('${name}') ORDER BY seqno`).map((r) => r[0]);
    assert.deepEqual(got, columns, name);
    const p = sqlite3(file, `SELECT partial FROM pragma_index_list('${table}') WHERE name='${name}'`);
    assert.equal(p, partial ? '1' : '0', `${name} partial`);
    if (partial) assert.match(sqlite3(file, `SELECT sql FROM sqlite_master WHERE name='${name}'`), new RegExp(`WHERE ${columns[2]} IS NOT NULL$`));
  }
});

test('fresh file: MLMDEnv = 10, built-in types 1..9, sequence 9, integrity ok, check queries run', async (t) => {
  const file = await freshFile(t);
  assert.equal(SCHEMA_VERSION, 10);
  assert.equal(sqlite3(file, 'SELECT count(*), min(schema_version), typeof(schema_version) FROM MLMDEnv'), '1|10|integer');
  const types = plain(pyQuery(file, 'SELECT id, name, version, type_kind, description, input_type, output_type, external_id FROM Type ORDER BY id'));
  const expected = [
    ['mlmd.Dataset', 1], ['mlmd.Model', 1], ['mlmd.Metrics', 1], ['mlmd.Statistics', 1],
    ['mlmd.Train', 0], ['mlmd.Transform', 0], ['mlmd.Process', 0], ['mlmd.Evaluate', 0], ['mlmd.Deploy', 0],
  ].map(([n, k], i) => [BigInt(i + 1), n, null, BigInt(k!), null, null, null, null]);
  assert.deepEqual(types, expected);
  assert.equal(sqlite3(file, "SELECT seq FROM sqlite_sequence WHERE name='Type'"), '9');
  assert.equal(sqlite3(file, 'SELECT count(*) FROM TypeProperty') + sqlite3(file, 'SELECT count(*) FROM ParentType'), '00');
  assert.equal(sqlite3(file, 'PRAGMA integrity_check'), 'ok');
  assert.equal(sqlite3(file, 'PRAGMA encoding'), 'UTF-8');
  assert.equal(sqlite3(file, 'PRAGMA journal_mode'), 'delete');
  for (const q of CHECK_QUERIES) pyQuery(file, q); // throws on a missing table or column
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  ArtifactState, EventType, ExecutionState, MlmdStore, PropertyType, TypeKind,
  dbl, int, loadMlmd, saveMlmd, str,
} from '../src/mlmd/index.js';
import { plain, pyQuery, sqlite3, tempDir } from './mlmd-helpers.js';

const T0 = 1_796_312_000_000; // fixed clock: times are passed in, never read
const BIG = 1796312080879783945n; // > 2^53: a JS number would round it

async function newStore(): Promise<MlmdStore> {
  const { db } = await loadMlmd('/nonexistent/dir/mlmd');
  return new MlmdStore(db);
}

test('store round trip, read back by python and the sqlite3 CLI', async (t) => {
  const file = path.join(tempDir(t), 'mlmd');
  const s = await newStore();
  const ids = s.transaction(() => {
    const parentType = s.getOrCreateType(TypeKind.CONTEXT, 'Parent_Context', {});
    const stageType = s.getOrCreateType(TypeKind.CONTEXT, 'Pipeline_Stage', { Pipeline: PropertyType.STRING });
    const execType = s.getOrCreateType(TypeKind.EXECUTION, 'smoke/infer', {
      Context_Type: PropertyType.STRING,
      Execution_uuid: PropertyType.STRING,
      Pipeline_id: PropertyType.INT,
    });
    const dsType = s.getOrCreateType(TypeKind.ARTIFACT, 'Dataset', { url: PropertyType.STRING, score: PropertyType.DOUBLE });
    const pipe = s.createContext({ typeId: parentType, name: 'smoke', nowMs: T0 });
    const stage = s.createContext({ typeId: stageType, name: 'smoke/infer', properties: { Pipeline: str('smoke') }, customProperties: { n: int(3) }, nowMs: T0 });
    assert.equal(s.putParentContext(stage, pipe), true);
    assert.equal(s.putParentContext(stage, pipe), false);
    const exec = s.createExecution({
      typeId: execType, name: 'run-1', state: ExecutionState.RUNNING,
      properties: { Context_Type: str('smoke/infer'), Execution_uuid: str('u-1'), Pipeline_id: int(pipe) },
      customProperties: { note: str("it's") }, nowMs: T0,
    });
    const art = s.createArtifact({
      typeId: dsType, uri: 'd41d8cd98f00b204e9800998ecf8427e', name: 'data/a.jpg:d41d8cd98f00b204e9800998ecf8427e',
      state: ArtifactState.LIVE, properties: { url: str('s3://b/a.jpg'), score: dbl(0.9416829310744944) },
      customProperties: { big: int(BIG), neg: int(-(2n ** 63n)) }, nowMs: T0 + 1,
    });
    assert.equal(s.putEvent({ artifactId: art, executionId: exec, type: EventType.OUTPUT, timeMs: T0 + 2, pathKey: 'result' }), true);
    assert.equal(s.putEvent({ artifactId: art, executionId: exec, type: EventType.OUTPUT, timeMs: T0 + 3, pathKey: 'again' }), false);
    assert.equal(s.putEvent({ artifactId: art, executionId: exec, type: EventType.INPUT }), true);
    assert.equal(s.putAttribution(stage, art), true);
    assert.equal(s.putAttribution(stage, art), false);
    assert.equal(s.putAssociation(stage, exec), true);
    assert.equal(s.putAssociation(stage, exec), false);
    return { parentType, stageType, execType, dsType, pipe, stage, exec, art };
  });
  assert.equal(s.inTransaction, false);
  await saveMlmd(s, file);

  // Types: user types follow the 9 built-ins; data_type enum values; NULL versions.
  assert.deepEqual(ids.parentType, 10);
  assert.deepEqual(
    plain(pyQuery(file, 'SELECT id, name, version, type_kind FROM Type WHERE id > 9 ORDER BY id')),
    [[10n, 'Parent_Context', null, 2n], [11n, 'Pipeline_Stage', null, 2n], [12n, 'smoke/infer', null, 0n], [13n, 'Dataset', null, 1n]],
  );
  assert.deepEqual(
    plain(pyQuery(file, 'SELECT type_id, name, data_type FROM TypeProperty ORDER BY type_id, name')),
    [[11n, 'Pipeline', 3n], [12n, 'Context_Type', 3n], [12n, 'Execution_uuid', 3n], [12n, 'Pipeline_id', 1n], [13n, 'score', 2n], [13n, 'url', 3n]],
  );
  assert.deepEqual(plain(pyQuery(file, 'SELECT context_id, parent_context_id FROM ParentContext')), [[BigInt(ids.stage), BigInt(ids.pipe)]]);
  assert.deepEqual(
    plain(pyQuery(file, 'SELECT id, type_id, name, external_id, create_time_since_epoch, typeof(create_time_since_epoch), last_update_time_since_epoch FROM Context ORDER BY id')),
    [[1n, 10n, 'smoke', null, BigInt(T0), 'integer', BigInt(T0)], [2n, 11n, 'smoke/infer', null, BigInt(T0), 'integer', BigInt(T0)]],
  );
  // Execution and its properties: one value column per row, is_custom_property 0/1.
  assert.deepEqual(
    plain(pyQuery(file, 'SELECT id, type_id, last_known_state, name, external_id, typeof(create_time_since_epoch) FROM Execution')),
    [[1n, 12n, 2n, 'run-1', null, 'integer']],
  );
  assert.deepEqual(
    plain(pyQuery(file, 'SELECT name, is_custom_property, int_value, double_value, string_value, byte_value, proto_value, bool_value FROM ExecutionProperty ORDER BY is_custom_property, name')),
    [
      ['Context_Type', 0n, null, null, 'smoke/infer', null, null, null],
      ['Execution_uuid', 0n, null, null, 'u-1', null, null, null],
      ['Pipeline_id', 0n, 1n, null, null, null, null, null],
      ['note', 1n, null, null, "it's", null, null, null],
    ],
  );
  // Artifact: exact int64 beyond 2^53 and the double, checked by storage class.
  assert.deepEqual(
    plain(pyQuery(file, "SELECT int_value, typeof(int_value) FROM ArtifactProperty WHERE name = 'big' AND is_custom_property = 1")),
    [[BIG, 'integer']],
  );
  assert.equal(sqlite3(file, "SELECT int_value FROM ArtifactProperty WHERE name='big'"), BIG.toString());
  assert.equal(sqlite3(file, "SELECT int_value FROM ArtifactProperty WHERE name='neg'"), '-9223372036854775808');
  assert.deepEqual(
    plain(pyQuery(file, "SELECT double_value, typeof(double_value), int_value, string_value FROM ArtifactProperty WHERE name = 'score'")),
    [[0.9416829310744944, 'real', null, null]],
  );
  assert.equal(
    sqlite3(file, 'SELECT count(*) FROM ArtifactProperty WHERE (int_value IS NOT NULL) + (double_value IS NOT NULL) + (string_value IS NOT NULL) + (byte_value IS NOT NULL) + (proto_value IS NOT NULL) + (bool_value IS NOT NULL) != 1'),
    '0',
  );
  assert.deepEqual(
    plain(pyQuery(file, 'SELECT id, type_id, uri, state, name, external_id, create_time_since_epoch FROM Artifact')),
    [[1n, 13n, 'd41d8cd98f00b204e9800998ecf8427e', 2n, 'data/a.jpg:d41d8cd98f00b204e9800998ecf8427e', null, BigInt(T0 + 1)]],
  );
  // Events: the duplicate was refused, its path not written; NULL time when none given.
  assert.deepEqual(
    plain(pyQuery(file, 'SELECT id, artifact_id, execution_id, type, milliseconds_since_epoch FROM Event ORDER BY id')),
    [[1n, 1n, 1n, 4n, BigInt(T0 + 2)], [2n, 1n, 1n, 3n, null]],
  );
  assert.deepEqual(plain(pyQuery(file, 'SELECT event_id, is_index_step, step_index, step_key FROM EventPath')), [[1n, 0n, null, 'result']]);
  assert.equal(sqlite3(file, 'SELECT count(*), max(id) FROM Attribution') + sqlite3(file, 'SELECT count(*), max(id) FROM Association'), '1|11|1');
  assert.equal(sqlite3(file, "SELECT seq FROM sqlite_sequence WHERE name = 'Event'"), '2', 'no id gaps from refused duplicates');
  assert.equal(sqlite3(file, 'PRAGMA integrity_check'), 'ok');

  // The store reads back what it wrote, exactly.
  const a = s.getArtifact(ids.art)!;
  assert.equal(a.typeName, 'Dataset');
  assert.equal(a.state, ArtifactState.LIVE);
  assert.deepEqual(a.customProperties.big, { kind: 'int', value: BIG });
  assert.deepEqual(a.properties.score, { kind: 'double', value: 0.9416829310744944 });
  const e = s.getExecution(ids.exec)!;
  assert.deepEqual(
    { ...e, properties: undefined, customProperties: undefined },
    { id: 1, typeId: 12, typeName: 'smoke/infer', name: 'run-1', state: ExecutionState.RUNNING, createTimeMs: T0, lastUpdateTimeMs: T0, properties: undefined, customProperties: undefined },
  );
  assert.deepEqual(e.properties.Pipeline_id, { kind: 'int', value: 1n });
  assert.equal(s.getExecution(999), undefined);
});

test('getOrCreateType is idempotent, adds missing properties, refuses conflicting ones', async () => {
  const s = await newStore();
  const a = s.getOrCreateType(TypeKind.ARTIFACT, 'Model', { a: PropertyType.STRING });
  const b = s.getOrCreateType(TypeKind.ARTIFACT, 'Model', { a: PropertyType.STRING, b: PropertyType.INT });
  assert.equal(a, b);
  assert.equal(s.db.exec("SELECT count(*) FROM Type WHERE name = 'Model'")[0]!.values[0]![0], 1);
  assert.deepEqual(s.db.exec("SELECT name, data_type FROM TypeProperty WHERE type_id = ? ORDER BY name", [a])[0]!.values, [['a', 3], ['b', 1]]);
  assert.throws(() => s.getOrCreateType(TypeKind.ARTIFACT, 'Model', { a: PropertyType.INT }), /already declares property a as STRING/);
  // Same name, other kind: a different type (identity is name+version+kind).
  const ex = s.getOrCreateType(TypeKind.EXECUTION, 'Model', {});
  assert.notEqual(ex, a);
  assert.equal(s.findType(TypeKind.ARTIFACT, 'Model'), a);
  assert.equal(s.findType(TypeKind.CONTEXT, 'Model'), undefined);
  // Only version IS NULL rows are ours; one with a version (even '') is another type to the library's lookup.
  s.db.exec("INSERT INTO Type (name, version, type_kind) VALUES ('V', '1', 1), ('V', '', 1)");
  assert.equal(s.findType(TypeKind.ARTIFACT, 'V'), undefined);
  assert.equal(s.findType(TypeKind.ARTIFACT, 'mlmd.Dataset'), 1);
});

test('write-path checks: kind, declared properties, NaN, fractional times, empty context name', async () => {
  const s = await newStore();
  const ctxT = s.getOrCreateType(TypeKind.CONTEXT, 'C', {});
  const artT = s.getOrCreateType(TypeKind.ARTIFACT, 'A', { n: PropertyType.INT });
  assert.throws(() => s.createArtifact({ typeId: ctxT, uri: 'u', nowMs: T0 }), /is a CONTEXT type, not ARTIFACT/);
  assert.throws(() => s.createArtifact({ typeId: artT, uri: 'u', properties: { x: int(1) }, nowMs: T0 }), /not declared by type A/);
  assert.throws(() => s.createArtifact({ typeId: artT, uri: 'u', properties: { n: str('1') }, nowMs: T0 }), /is INT, got a string/);
  assert.throws(() => s.createArtifact({ typeId: artT, uri: 'u', nowMs: T0 + 0.5 }), /not a non-negative integer/);
  assert.throws(() => dbl(NaN), /str\('NaN'\)/);
  assert.throws(() => int(2 ** 53), /safe integer/);
  assert.throws(() => int(2n ** 63n), /int64/);
  assert.throws(() => s.createContext({ typeId: ctxT, name: '', nowMs: T0 }), /non-empty name/);
  assert.throws(() => s.putEvent({ artifactId: 1, executionId: 1, type: EventType.UNKNOWN }), /1\.\.7/);
  const c1 = s.createContext({ typeId: ctxT, name: 'a', nowMs: T0 });
  const c2 = s.createContext({ typeId: ctxT, name: 'b', nowMs: T0 });
  s.putParentContext(c2, c1);
  assert.throws(() => s.putParentContext(c1, c2), /cycle/);
  assert.equal(s.db.exec('SELECT count(*) FROM Artifact')[0]!.values[0]![0], 0, 'failed creates wrote nothing');
});

test('updates upsert property rows, bump last_update only, and lookups use the indexes', async () => {
  const s = await newStore();
  const et = s.getOrCreateType(TypeKind.EXECUTION, 'E', { Execution_uuid: PropertyType.STRING, n: PropertyType.INT });
  const at = s.getOrCreateType(TypeKind.ARTIFACT, 'A', { n: PropertyType.INT });
  const e1 = s.createExecution({ typeId: et, properties: { Execution_uuid: str('x'), n: int(1) }, nowMs: T0 });
  const e2 = s.createExecution({ typeId: et, properties: { Execution_uuid: str('y') }, customProperties: { Execution_uuid: str('x') }, nowMs: T0 });
  assert.deepEqual(s.findExecutionsByProperty('Execution_uuid', 'x'), [e1]);
  assert.deepEqual(s.findExecutionsByProperty('Execution_uuid', 'x', true), [e2]);
  s.updateExecution(e1, { state: ExecutionState.COMPLETE, properties: { n: int(2) }, customProperties: { c: dbl(1.5) }, nowMs: T0 + 10 });
  const g = s.getExecution(e1)!;
  assert.equal(g.state, ExecutionState.COMPLETE);
  assert.equal(g.createTimeMs, T0);
  assert.equal(g.lastUpdateTimeMs, T0 + 10);
  assert.deepEqual(g.properties.n, { kind: 'int', value: 2n });
  assert.deepEqual(g.customProperties.c, { kind: 'double', value: 1.5 });
  // A custom property changing kind keeps exactly one value column.
  s.updateExecution(e1, { customProperties: { c: str('NaN') }, nowMs: T0 + 11 });
  assert.deepEqual(
    s.db.exec("SELECT int_value, double_value, string_value FROM ExecutionProperty WHERE name = 'c'")[0]!.values,
    [[null, null, 'NaN']],
  );
  const a1 = s.createArtifact({ typeId: at, uri: 'md5a', name: 'n1', properties: { n: int(BIG) }, nowMs: T0 });
  const a2 = s.createArtifact({ typeId: at, uri: 'md5a', name: 'n2', customProperties: { f: dbl(0.25) }, nowMs: T0 });
  assert.deepEqual(s.findArtifactsByUri('md5a'), [a1, a2]);
  assert.deepEqual(s.findArtifactsByUri('none'), []);
  assert.equal(s.findArtifactByName(at, 'n2'), a2);
  assert.equal(s.findArtifactByName(at, 'n3'), undefined);
  assert.deepEqual(s.findArtifactsByProperty('n', int(BIG), false), [a1]);
  assert.deepEqual(s.findArtifactsByProperty('n', int(BIG - 1n), false), []);
  assert.deepEqual(s.findArtifactsByProperty('f', dbl(0.25), true), [a2]);
  s.updateArtifact(a2, { state: ArtifactState.DELETED, customProperties: { f: dbl(0.5) }, nowMs: T0 + 5 });
  assert.deepEqual(s.findArtifactsByProperty('f', dbl(0.5), true), [a2]);
  assert.equal(s.getArtifact(a2)!.state, ArtifactState.DELETED);
  assert.equal(s.getArtifact(a2)!.lastUpdateTimeMs, T0 + 5);
  assert.throws(() => s.updateArtifact(999, { nowMs: T0 }), /no artifact with id 999/);

  const plan = (sql: string) => s.db.exec(`EXPLAIN QUERY PLAN ${sql}`)[0]!.values.map((r) => String(r[3])).join(' ; ');
  assert.match(plan("SELECT execution_id FROM ExecutionProperty WHERE name = 'a' AND is_custom_property = 0 AND string_value = 'b'"), /idx_execution_property_string/);
  assert.match(plan("SELECT id FROM Artifact WHERE uri = 'x' ORDER BY id"), /idx_artifact_uri/);
  assert.match(plan('SELECT artifact_id FROM ArtifactProperty WHERE name = 1 AND is_custom_property = 1 AND double_value = 0.5'), /idx_artifact_property_double/);
  assert.match(plan('SELECT 1 FROM Event WHERE artifact_id = 1 AND execution_id = 2 LIMIT 1'), /sqlite_autoindex_Event_1/);
});

test('hasAnyEvent is true for an event of any type between the two, and only for that pair', async () => {
  const s = await newStore();
  const at = s.getOrCreateType(TypeKind.ARTIFACT, 'A', {});
  const et = s.getOrCreateType(TypeKind.EXECUTION, 'E', {});
  const a = s.createArtifact({ typeId: at, uri: 'u', nowMs: T0 });
  const e = s.createExecution({ typeId: et, nowMs: T0 });
  assert.equal(s.hasAnyEvent(a, e), false);
  s.putEvent({ artifactId: a, executionId: e, type: EventType.INPUT, timeMs: T0 });
  assert.equal(s.hasAnyEvent(a, e), true);
  assert.equal(s.hasAnyEvent(e + 1, a), false);
});

test('transactions: rollback on throw, nested savepoints, async callbacks refused, type cache reset', async () => {
  const s = await newStore();
  const count = (tbl: string) => s.db.exec(`SELECT count(*) FROM ${tbl}`)[0]!.values[0]![0];
  assert.throws(() =>
    s.transaction(() => {
      s.getOrCreateType(TypeKind.ARTIFACT, 'Lost', { p: PropertyType.INT });
      throw new Error('boom');
    }),
  /boom/);
  assert.equal(s.inTransaction, false);
  assert.equal(count('Type'), 9);
  // The id of the rolled-back type is reused; the cache must not remember 'Lost'.
  const id = s.getOrCreateType(TypeKind.CONTEXT, 'Kept', {});
  assert.equal(id, 10);
  assert.throws(() => s.createArtifact({ typeId: id, uri: 'u', nowMs: T0 }), /CONTEXT type/);

  s.transaction(() => {
    s.createContext({ typeId: id, name: 'outer', nowMs: T0 });
    assert.throws(() => s.transaction(() => {
      s.createContext({ typeId: id, name: 'inner', nowMs: T0 });
      assert.equal(s.inTransaction, true);
      throw new Error('inner');
    }), /inner/);
    s.transaction(() => s.createContext({ typeId: id, name: 'inner2', nowMs: T0 }));
  });
  assert.deepEqual(s.db.exec('SELECT name FROM Context ORDER BY id')[0]!.values, [['outer'], ['inner2']]);
  assert.throws(() => s.transaction(() => Promise.resolve(1)), /must be synchronous/);
  assert.equal(s.inTransaction, false);
  // UNIQUE violations surface as errors and roll back.
  assert.throws(() => s.transaction(() => s.createContext({ typeId: id, name: 'outer', nowMs: T0 })), /UNIQUE/);
  assert.equal(count('Context'), 2);
});

test('throughput: a few thousand results per second on the write path', async (t) => {
  const s = await newStore();
  const ct = s.getOrCreateType(TypeKind.CONTEXT, 'Pipeline_Stage', {});
  const et = s.getOrCreateType(TypeKind.EXECUTION, 'E', { Execution_uuid: PropertyType.STRING });
  const at = s.getOrCreateType(TypeKind.ARTIFACT, 'Dataset', { url: PropertyType.STRING });
  const stage = s.createContext({ typeId: ct, name: 'p/s', nowMs: T0 });
  const exec = s.createExecution({ typeId: et, properties: { Execution_uuid: str('u') }, nowMs: T0 });
  const n = 3000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    s.transaction(() => {
      const uri = `md5-${i}`;
      if (s.findArtifactsByUri(uri).length) return;
      const a = s.createArtifact({ typeId: at, uri, name: `data/${i}.jpg:${uri}`, properties: { url: str(`s3://b/${i}`) }, customProperties: { size: int(i), conf: dbl(i / 7) }, nowMs: T0 + i });
      if (!s.hasAnyEvent(a, exec)) s.putEvent({ artifactId: a, executionId: exec, type: EventType.OUTPUT, timeMs: T0 + i, pathKey: 'result' });
      s.putAttribution(stage, a);
      s.putAssociation(stage, exec);
    });
  }
  const perSec = n / ((performance.now() - t0) / 1000);
  t.diagnostic(`${Math.round(perSec)} results/s`);
  assert.equal(s.db.exec('SELECT count(*) FROM Event')[0]!.values[0]![0], n);
  assert.ok(perSec > 1000, `only ${Math.round(perSec)} results/s`);
});

test('reopen: a saved store loads again; types, contexts and artifacts are found, ids continue', async (t) => {
  const file = path.join(tempDir(t), 'mlmd');
  const s1 = await newStore();
  const ct = s1.getOrCreateType(TypeKind.CONTEXT, 'Pipeline_Stage', { Pipeline: PropertyType.STRING });
  const at = s1.getOrCreateType(TypeKind.ARTIFACT, 'Dataset', {});
  const c = s1.createContext({ typeId: ct, name: 'smoke/infer', properties: { Pipeline: str('smoke') }, nowMs: T0 });
  const a = s1.createArtifact({ typeId: at, uri: 'md5', name: 'x:md5', customProperties: { big: int(BIG) }, nowMs: T0 });
  await saveMlmd(s1, file);

  const { db, created } = await loadMlmd(file);
  assert.equal(created, false);
  const s2 = new MlmdStore(db);
  assert.equal(s2.getOrCreateType(TypeKind.CONTEXT, 'Pipeline_Stage', { Pipeline: PropertyType.STRING }), ct);
  assert.throws(() => s2.createContext({ typeId: ct, name: 'n', properties: { Pipeline: int(1) }, nowMs: T0 }), /is STRING/, 'declared types known after reload');
  assert.equal(s2.findContext(ct, 'smoke/infer'), c);
  assert.equal(s2.findArtifactByName(at, 'x:md5'), a);
  assert.deepEqual(s2.getArtifact(a)!.customProperties.big, { kind: 'int', value: BIG });
  const a2 = s2.createArtifact({ typeId: at, uri: 'md5-2', nowMs: T0 });
  assert.equal(a2, a + 1);
  assert.equal(s2.db.exec('SELECT count(*) FROM Type')[0]!.values[0]![0], 11);
});

test('findContextsByName and findExecutionsByState (start-up helpers)', async () => {
  const s = await newStore();
  const pt = s.getOrCreateType(TypeKind.CONTEXT, 'Parent_Context', {});
  const st = s.getOrCreateType(TypeKind.CONTEXT, 'Other', {});
  const et = s.getOrCreateType(TypeKind.EXECUTION, 'E', {});
  const c1 = s.createContext({ typeId: pt, name: 'smoke', nowMs: T0 });
  const c2 = s.createContext({ typeId: st, name: 'smoke', nowMs: T0 });
  s.createContext({ typeId: st, name: 'other', nowMs: T0 });
  assert.deepEqual(s.findContextsByName('smoke'), [{ id: c1, typeId: pt }, { id: c2, typeId: st }]);
  assert.deepEqual(s.findContextsByName('none'), []);
  const e1 = s.createExecution({ typeId: et, state: ExecutionState.RUNNING, nowMs: T0 });
  const e2 = s.createExecution({ typeId: et, state: ExecutionState.COMPLETE, nowMs: T0 });
  const e3 = s.createExecution({ typeId: et, state: ExecutionState.RUNNING, nowMs: T0 });
  s.createExecution({ typeId: et, nowMs: T0 });
  assert.deepEqual(s.findExecutionsByState(ExecutionState.RUNNING), [e1, e3]);
  s.updateExecution(e1, { state: ExecutionState.FAILED, nowMs: T0 + 1 });
  assert.deepEqual(s.findExecutionsByState(ExecutionState.RUNNING), [e3]);
  assert.deepEqual(s.findExecutionsByState(ExecutionState.COMPLETE), [e2]);
});

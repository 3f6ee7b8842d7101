import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../src/errors.js';
import { EventType, MlmdStore, PropertyType, TypeKind, int, loadMlmd, saveMlmd, str } from '../src/mlmd/index.js';
import { pyQuery, sqlite3, tempDir } from './mlmd-helpers.js';

async function newStore(file: string) {
  const loaded = await loadMlmd(file);
  const s = new MlmdStore(loaded.db);
  const et = s.getOrCreateType(TypeKind.EXECUTION, 'E', { Execution_uuid: PropertyType.STRING });
  const at = s.getOrCreateType(TypeKind.ARTIFACT, 'Dataset', {});
  const ct = s.getOrCreateType(TypeKind.CONTEXT, 'Pipeline_Stage', {});
  return { s, et, at, ct, stamp: loaded.stamp };
}

// Reads the file read-only in a loop until `stop` appears; reports any error and any count that went down.
const READER = `
import sqlite3, sys, os, json, time
f, stop = sys.argv[1], sys.argv[2]
reads, errors, last, decreases, seen = 0, [], -1, 0, set()
while not os.path.exists(stop):
    if not os.path.exists(f):
        time.sleep(0.002); continue
    try:
        con = sqlite3.connect('file:' + f + '?mode=ro', uri=True)
        ok = con.execute('PRAGMA integrity_check').fetchone()[0]
        n = con.execute('SELECT count(*) FROM Execution').fetchone()[0]
        con.close()
        if ok != 'ok': errors.append(ok)
        if n < last: decreases += 1
        last = n; seen.add(n); reads += 1
    except Exception as e:
        errors.append(str(e))
    time.sleep(0.003)
print(json.dumps({'reads': reads, 'errors': errors[:5], 'decreases': decreases, 'distinct': len(seen)}))
`;

test('B09: saves are atomic; a concurrent reader never sees a torn file; no temp files remain', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'mlmd');
  const stop = path.join(dir, 'stop');
  const { s, et } = await newStore(file);
  await saveMlmd(s, file);
  const reader = spawn('python3', ['-c', READER, file, stop], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<number | null>((resolve) => reader.on('close', resolve));
  const saves = 60;
  for (let i = 0; i < saves; i++) {
    s.transaction(() => {
      // Grow the file a little each time so reads straddle differently sized versions.
      for (let j = 0; j < 40; j++) s.createExecution({ typeId: et, properties: { Execution_uuid: str(`${i}-${j}-${'x'.repeat(200)}`) }, nowMs: 1000 + i });
    });
    await saveMlmd(s, file);
    await new Promise((r) => setTimeout(r, 5));
  }
  writeFileSync(stop, '');
  assert.equal(await done, 0);
  const r = JSON.parse(out) as { reads: number; errors: string[]; decreases: number; distinct: number };
  t.diagnostic(`reader: ${JSON.stringify(r)}`);
  assert.deepEqual(r.errors, []);
  assert.equal(r.decreases, 0);
  assert.ok(r.reads >= 20, `reader ran ${r.reads} times`);
  assert.ok(r.distinct >= 5, `reader saw ${r.distinct} versions`);
  assert.deepEqual(readdirSync(dir).sort(), ['mlmd', 'stop'], 'no temp files left');
  assert.equal(sqlite3(file, 'SELECT count(*) FROM Execution'), String(saves * 40));
});

test('B10: save refuses inside a transaction; after commit it works and statements still run', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'mlmd');
  const { s, et, at, ct } = await newStore(file);
  const stage = s.createContext({ typeId: ct, name: 'p/s', nowMs: 1 });
  let pending: Promise<unknown> | undefined;
  s.transaction(() => {
    const e = s.createExecution({ typeId: et, nowMs: 1 });
    const a = s.createArtifact({ typeId: at, uri: 'u1', nowMs: 1 });
    s.putEvent({ artifactId: a, executionId: e, type: EventType.OUTPUT, timeMs: 1 });
    pending = saveMlmd(s, file); // a save timer firing mid-record
    s.putAttribution(stage, a);
  });
  await assert.rejects(pending!, /transaction is open; save only between transactions/);
  assert.equal(existsSync(file), false, 'nothing written');
  // A transaction opened on the raw Database, outside the store, is caught too.
  s.db.exec('BEGIN');
  await assert.rejects(saveMlmd(s.db, file), /open transaction/);
  s.db.exec('ROLLBACK');

  const r1 = await saveMlmd(s, file);
  assert.ok(r1.bytes > 0 && r1.ms >= 0);
  assert.equal(sqlite3(file, 'SELECT count(*) FROM Artifact a JOIN Attribution t ON t.artifact_id = a.id JOIN Event e ON e.artifact_id = a.id'), '1');
  // Prepared statements survive export(), and the memory journal PRAGMA keeps its value.
  assert.deepEqual(s.db.exec('PRAGMA journal_mode')[0]!.values, [['memory']]);
  s.transaction(() => {
    const e = s.createExecution({ typeId: et, properties: { Execution_uuid: str('after') }, nowMs: 2 });
    const a = s.createArtifact({ typeId: at, uri: 'u2', customProperties: { n: int(7) }, nowMs: 2 });
    assert.equal(s.putEvent({ artifactId: a, executionId: e, type: EventType.OUTPUT, timeMs: 2 }), true);
    s.putAttribution(stage, a);
  });
  assert.deepEqual(s.findExecutionsByProperty('Execution_uuid', 'after'), [2]);
  await saveMlmd(s, file);
  assert.deepEqual(pyQuery(file, 'SELECT count(*) FROM Event e LEFT JOIN Artifact a ON a.id = e.artifact_id WHERE a.id IS NULL'), [[{ int: '0' }]]);
  assert.deepEqual(pyQuery(file, 'SELECT count(*) FROM Artifact a WHERE NOT EXISTS (SELECT 1 FROM Attribution t WHERE t.artifact_id = a.id)'), [[{ int: '0' }]]);
  assert.equal(sqlite3(file, 'SELECT count(*) FROM Artifact') + sqlite3(file, 'SELECT count(*) FROM Event'), '22');
  assert.equal(sqlite3(file, 'PRAGMA journal_mode'), 'delete', 'the saved file is a normal rollback-journal file');
  // And the saved file loads back as a valid store.
  const again = await loadMlmd(file);
  assert.equal(again.created, false);
  assert.equal(again.addedBuiltinTypes, 0);
});

test('B09: with `expect`, a save refuses to overwrite a file another process changed', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'mlmd');
  const { s, ct, stamp } = await newStore(file);
  assert.equal(stamp, null);
  const first = await saveMlmd(s, file, { expect: stamp });
  const second = await saveMlmd(s, file, { expect: first.stamp });
  // Another writer (cmflib, `cmf metadata pull`) commits a row in place.
  sqlite3(file, `INSERT INTO Context (type_id, name, create_time_since_epoch, last_update_time_since_epoch) VALUES (${ct}, 'external-pipeline', 0, 0)`);
  s.createContext({ typeId: ct, name: 'ours', nowMs: 5 });
  const err = await saveMlmd(s, file, { expect: second.stamp }).then(
    () => assert.fail('overwrote the other writer'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UserError);
  assert.match(err.message, /changed on disk since cmf-sage loaded it.*not overwriting/);
  assert.ok(!err.message.includes('\n'));
  assert.equal(sqlite3(file, "SELECT group_concat(name) FROM Context"), 'external-pipeline', 'the external row survived');
  // A file that appears where none was expected is also refused.
  const other = path.join(dir, 'other');
  writeFileSync(other, 'x');
  await assert.rejects(saveMlmd(s, other, { expect: null }), UserError);
});

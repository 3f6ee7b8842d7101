import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../src/errors.js';
import { MlmdStore, TypeKind, loadMlmd, saveMlmd } from '../src/mlmd/index.js';
import { sha256, sqlite3, tempDir } from './mlmd-helpers.js';

/** A valid v10 file written by our own code, then altered with the sqlite3 CLI. */
async function mlmdFile(dir: string, name: string, alter?: string): Promise<string> {
  const file = path.join(dir, name);
  const { db } = await loadMlmd(file);
  const s = new MlmdStore(db);
  s.createContext({ typeId: s.getOrCreateType(TypeKind.CONTEXT, 'Parent_Context', {}), name: 'keep-me', nowMs: 1 });
  await saveMlmd(s, file, { fsync: false });
  if (alter) sqlite3(file, alter);
  return file;
}

/** loadMlmd must refuse with a one-line UserError naming the file, and leave the file byte-identical. */
async function assertRefused(file: string, pattern: RegExp): Promise<string> {
  const before = sha256(file);
  const size = statSync(file).size;
  const entries = readdirSync(path.dirname(file)).sort();
  const err = await loadMlmd(file).then(
    () => assert.fail(`${file} was accepted`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UserError, `expected UserError, got ${String(err)}`);
  assert.equal(err.exitCode, 2);
  assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
  assert.ok(err.message.startsWith(file + ' '), `names the file: ${err.message}`);
  assert.match(err.message, pattern);
  if (process.env.MLMD_SHOW) console.error(err.message);
  assert.equal(sha256(file), before, 'file unchanged');
  assert.equal(statSync(file).size, size);
  assert.deepEqual(readdirSync(path.dirname(file)).sort(), entries, 'no files added or removed');
  return err.message;
}

test('B08a: a Git LFS pointer is not an SQLite database', async (t) => {
  const file = path.join(tempDir(t), 'mlmd');
  writeFileSync(file, `version https://git-lfs.github.com/spec/v1\noid sha256:${'ab'.repeat(32)}\nsize 123456\n`);
  await assertRefused(file, /is not an SQLite database \(it is a Git LFS pointer.*\); use the path of an MLMD file, or remove this one$/);
});

test('other non-SQLite content and truncated SQLite files are refused', async (t) => {
  const dir = tempDir(t);
  const text = path.join(dir, 'text');
  writeFileSync(text, 'hello\n');
  await assertRefused(text, /is not an SQLite database \(no SQLite header; 6 bytes\)/);
  const trunc = path.join(dir, 'trunc');
  writeFileSync(trunc, 'SQLite format 3\0abc');
  await assertRefused(trunc, /is not an SQLite database \(it is truncated/);
  await assert.rejects(loadMlmd(dir), (e: unknown) => e instanceof UserError && /is a directory/.test(e.message));
});

test('B08b: MLMDEnv present but empty: schema version missing', async (t) => {
  const file = await mlmdFile(tempDir(t), 'mlmd', 'DELETE FROM MLMDEnv');
  await assertRefused(file, /schema version is missing \(half-initialised/);
});

test('B08c: two MLMDEnv rows: more than one schema version', async (t) => {
  const file = await mlmdFile(tempDir(t), 'mlmd', 'INSERT INTO MLMDEnv VALUES (9)');
  await assertRefused(file, /more than one schema version in MLMDEnv \(9, 10\)/);
});

test('B08d: version 11 is newer than 10', async (t) => {
  const file = await mlmdFile(tempDir(t), 'mlmd', 'UPDATE MLMDEnv SET schema_version = 11');
  await assertRefused(file, /version 11, which is newer than 10/);
});

test('B08e: version 7 is older than 10 and needs the upgrade migration', async (t) => {
  const file = await mlmdFile(tempDir(t), 'mlmd', 'UPDATE MLMDEnv SET schema_version = 7');
  await assertRefused(file, /version 7, which is older than 10; upgrade it with ml-metadata's migration \(enable_upgrade_migration\) first$/);
});

test('MLMD tables without MLMDEnv: half-initialised', async (t) => {
  const file = await mlmdFile(tempDir(t), 'mlmd', 'DROP TABLE MLMDEnv');
  await assertRefused(file, /no MLMDEnv table \(half-initialised\)/);
});

test('v0.13.2 layout (Type.is_artifact_type, no MLMDEnv) is schema 0', async (t) => {
  const file = path.join(tempDir(t), 'mlmd');
  sqlite3(
    file,
    'CREATE TABLE Type (id INTEGER PRIMARY KEY, name TEXT, is_artifact_type INT); CREATE TABLE Artifact (id INT); CREATE TABLE Event (id INT); ' +
      'CREATE TABLE Execution (id INT); CREATE TABLE ArtifactProperty (id INT); CREATE TABLE EventPath (id INT); CREATE TABLE ExecutionProperty (id INT); CREATE TABLE TypeProperty (id INT);',
  );
  await assertRefused(file, /schema version 0 .*older than 10; upgrade it/);
});

test('a foreign SQLite database is refused, not given MLMD tables', async (t) => {
  const file = path.join(tempDir(t), 'mlmd');
  sqlite3(file, "CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT); INSERT INTO moz_places (url) VALUES ('x');");
  await assertRefused(file, /is an SQLite database but not an MLMD store \(it holds moz_places\)/);
  assert.equal(sqlite3(file, "SELECT group_concat(name) FROM sqlite_master WHERE type = 'table'"), 'moz_places');
});

test('a v10 store missing a column or a table is refused, naming it', async (t) => {
  const dir = tempDir(t);
  const noCol = await mlmdFile(
    dir,
    'nocol',
    'ALTER TABLE Artifact RENAME TO Old; CREATE TABLE Artifact (id INTEGER PRIMARY KEY AUTOINCREMENT, type_id INT NOT NULL, uri TEXT, state INT, name VARCHAR(255), ' +
      'create_time_since_epoch INT NOT NULL DEFAULT 0, last_update_time_since_epoch INT NOT NULL DEFAULT 0); DROP TABLE Old;',
  );
  await assertRefused(noCol, /table Artifact lacks column external_id;/);
  const noCheckCol = await mlmdFile(dir, 'nocheckcol', 'ALTER TABLE EventPath DROP COLUMN step_key');
  await assertRefused(noCheckCol, /table EventPath lacks column step_key;/);
  const noTable = await mlmdFile(dir, 'notable', 'DROP TABLE Attribution');
  await assertRefused(noTable, /missing tables \(Attribution\)/);
});

test('a hot rollback journal or an unmerged WAL beside the file is refused', async (t) => {
  const dir = tempDir(t);
  const file = await mlmdFile(dir, 'mlmd');
  writeFileSync(`${file}-journal`, Buffer.concat([Buffer.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]), Buffer.alloc(504)]));
  await assertRefused(file, /hot rollback journal/);
  writeFileSync(`${file}-journal`, Buffer.alloc(512)); // zeroed header: not hot (journal_mode=PERSIST leftovers)
  assert.equal((await loadMlmd(file)).created, false);
  writeFileSync(`${file}-wal`, 'x');
  await assertRefused(file, /write-ahead log/);
});

test('B08f: a missing or 0-byte file gets a full schema in memory; nothing is written', async (t) => {
  const dir = tempDir(t);
  const missing = path.join(dir, 'missing');
  const r1 = await loadMlmd(missing);
  assert.equal(r1.created, true);
  assert.equal(r1.stamp, null);
  assert.equal(existsSync(missing), false, 'load does not create the file');
  const empty = path.join(dir, 'empty');
  writeFileSync(empty, '');
  const r2 = await loadMlmd(empty);
  assert.equal(r2.created, true);
  assert.equal(statSync(empty).size, 0, 'still 0 bytes');
  assert.equal(r2.db.exec('SELECT count(*) FROM Type')[0]!.values[0]![0], 9);
  assert.equal(r2.db.exec('SELECT schema_version FROM MLMDEnv')[0]!.values[0]![0], 10);
  // An SQLite file with no tables at all holds nothing either.
  const blank = path.join(dir, 'blank');
  sqlite3(blank, 'PRAGMA user_version = 1; VACUUM;');
  const before = sha256(blank);
  assert.equal((await loadMlmd(blank)).created, true);
  assert.equal(sha256(blank), before);
});

test('a valid v10 file opens with its rows; missing built-in types are re-added in memory only', async (t) => {
  const dir = tempDir(t);
  const file = await mlmdFile(dir, 'mlmd', "DELETE FROM Type WHERE name IN ('mlmd.Model', 'mlmd.Deploy')");
  const before = sha256(file);
  const r = await loadMlmd(file);
  assert.equal(r.created, false);
  assert.equal(r.addedBuiltinTypes, 2);
  assert.equal(sha256(file), before, 'the file itself is untouched');
  assert.deepEqual(r.db.exec("SELECT name FROM Context")[0]!.values, [['keep-me']]);
  const names = r.db.exec("SELECT name, type_kind FROM Type WHERE name IN ('mlmd.Model', 'mlmd.Deploy') ORDER BY id")[0]!.values;
  assert.deepEqual(names, [['mlmd.Model', 1], ['mlmd.Deploy', 0]]);
  // A second load of an intact file adds nothing.
  await saveMlmd(r.db, file, { fsync: false });
  assert.equal((await loadMlmd(file)).addedBuiltinTypes, 0);
});

test('a WAL-mode header without a log is read (in memory) as a normal file', async (t) => {
  const dir = tempDir(t);
  const file = await mlmdFile(dir, 'mlmd', 'PRAGMA journal_mode = WAL');
  assert.equal(sqlite3(file, 'PRAGMA journal_mode'), 'wal');
  const before = sha256(file);
  const r = await loadMlmd(file);
  assert.equal(r.created, false);
  assert.deepEqual(r.db.exec('SELECT name FROM Context')[0]!.values, [['keep-me']]);
  assert.equal(sha256(file), before);
});

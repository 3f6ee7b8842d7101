import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { copyFixture, execFileP, FIXTURES, git, python, runCli, sqlite, tempDir } from './helpers.js';

const md5 = async (f: string) => createHash('md5').update(await fsp.readFile(f)).digest('hex');

async function setup(fixture: string) {
  const root = await tempDir('e2e-');
  const logdir = await copyFixture(`${fixture}/logdir`, path.join(root, 'logdir'));
  const model = path.join(root, 'model.bin');
  await fsp.copyFile(path.join(FIXTURES, 'model', 'smoke-model-v1.bin'), model);
  const ws = path.join(root, 'ws');
  const args = ['watch', '--once', '--pipeline', 'smoke', '--model', model, '--results', logdir, '--workspace', ws];
  return { root, logdir, model, ws, args };
}

test('watch --once on the binary fixture builds a workspace the real tools accept', async () => {
  const { logdir, model, ws, args } = await setup('pywaggle-binary');
  const run = await runCli(args);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^recorded 4 result\(s\) and 4 measurement\(s\) in /);
  const logs = run.stderr.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(logs.filter((l) => /^recorded /.test(l.msg)).length, 4);

  // git: clean fsck, HEAD on the branch named after the mlmd file, all pointers committed
  await execFileP('git', ['fsck', '--full', '--strict'], { cwd: ws });
  assert.equal((await git(ws, 'rev-parse', '--abbrev-ref', 'HEAD')).trim(), 'mlmd');
  assert.equal((await git(ws, 'log', '--format=%s', 'master')).trim(), 'Initial code commit');
  const tracked = (await git(ws, 'ls-files')).trim().split('\n');
  const pointers = tracked.filter((p) => p.endsWith('.dvc'));
  assert.equal(pointers.length, 5);
  assert.ok(tracked.includes('.dvc/config') && tracked.includes('.cmfconfig'));
  assert.equal((await git(ws, 'status', '--porcelain')).trim(), '');

  // DVC: every pointer names an object whose md5 is its name; objects read-only
  const uploads = await fsp.readdir(path.join(logdir, 'uploads'));
  for (const u of uploads) {
    const text = await fsp.readFile(path.join(ws, 'results', '2026-12-03', `${u}.dvc`), 'utf8');
    const sum = await md5(path.join(logdir, 'uploads', u));
    const size = (await fsp.stat(path.join(logdir, 'uploads', u))).size;
    assert.equal(text, `outs:\n- md5: ${sum}\n  size: ${size}\n  hash: md5\n  path: ${u}\n`);
    const obj = path.join(ws, '.dvc', 'cache', 'files', 'md5', sum.slice(0, 2), sum.slice(2));
    assert.equal(await md5(obj), sum);
    assert.equal(((await fsp.stat(obj)).mode & 0o777).toString(8), '444');
  }
  const modelMd5 = await md5(model);
  assert.match(await fsp.readFile(path.join(ws, 'models', 'model.bin.dvc'), 'utf8'), new RegExp(`md5: ${modelMd5}`));
  const dvcConfig = await fsp.readFile(path.join(ws, '.dvc', 'config'), 'utf8');
  assert.match(dvcConfig, /\[core\]\n    remote = local-storage\n\['remote "local-storage"'\]\n    url = .*ws-dvc-remote\n/);

  // MLMD, read by the sqlite3 CLI
  const mlmd = path.join(ws, 'mlmd');
  assert.deepEqual(await sqlite(mlmd, 'SELECT schema_version FROM MLMDEnv'), [{ schema_version: 10 }]);
  assert.deepEqual(await sqlite(mlmd, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
  const contexts = await sqlite(mlmd, 'SELECT c.name, t.name AS type FROM Context c JOIN Type t ON t.id=c.type_id ORDER BY c.id');
  assert.deepEqual(contexts, [
    { name: 'smoke', type: 'Parent_Context' },
    { name: 'smoke/inference', type: 'Pipeline_Stage' },
  ]);
  assert.deepEqual(await sqlite(mlmd, 'SELECT count(*) AS n FROM ParentContext WHERE context_id=2 AND parent_context_id=1'), [{ n: 1 }]);
  const props = await sqlite(
    mlmd,
    'SELECT p.name, typeof(p.int_value) AS i, typeof(p.string_value) AS s, p.string_value AS v, p.int_value AS iv FROM ExecutionProperty p WHERE p.is_custom_property=0 ORDER BY p.name',
  );
  assert.deepEqual(props.map((p) => p.name), [
    'Context_ID', 'Context_Type', 'Execution', 'Execution_type_name', 'Execution_uuid',
    'Git_End_Commit', 'Git_Repo', 'Git_Start_Commit', 'Pipeline_Type', 'Pipeline_id',
  ]);
  const byName = Object.fromEntries(props.map((p) => [p.name, p]));
  assert.equal(byName.Context_ID.i, 'integer');
  assert.equal(byName.Context_ID.iv, 2);
  assert.equal(byName.Pipeline_id.iv, 1);
  assert.equal(byName.Context_Type.v, 'smoke/inference');
  assert.equal(byName.Execution_type_name.v, 'smoke/inference');
  assert.equal(byName.Pipeline_Type.v, 'smoke');
  assert.match(String(byName.Execution_uuid.v), /^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const head = (await git(ws, 'rev-parse', 'HEAD')).trim();
  assert.equal(byName.Git_End_Commit.v, head);
  assert.match(String(byName.Git_Start_Commit.v), /^[0-9a-f]{40}$/);
  // the window's pointers are in the Git_End_Commit tree
  const inEnd = (await git(ws, 'ls-tree', '-r', '--name-only', String(byName.Git_End_Commit.v))).split('\n');
  for (const u of uploads) assert.ok(inEnd.includes(`results/2026-12-03/${u}.dvc`));
  assert.deepEqual(await sqlite(mlmd, 'SELECT last_known_state AS s, t.name AS type FROM Execution e JOIN Type t ON t.id=e.type_id'), [
    { s: 3, type: 'inference' },
  ]);

  const arts = await sqlite(mlmd, 'SELECT a.uri, a.name, t.name AS type FROM Artifact a JOIN Type t ON t.id=a.type_id ORDER BY a.id');
  assert.equal(arts.filter((a) => a.type === 'Model').length, 1);
  assert.equal(arts.filter((a) => a.type === 'Dataset').length, 4);
  assert.equal(arts.filter((a) => a.type === 'Metrics').length, 4);
  const modelArt = arts.find((a) => a.type === 'Model')!;
  assert.equal(modelArt.uri, modelMd5);
  assert.equal(modelArt.name, `models/model.bin:${modelMd5}:1`);
  const ds = arts.filter((a) => a.type === 'Dataset');
  for (const u of uploads) {
    const sum = await md5(path.join(logdir, 'uploads', u));
    assert.ok(ds.some((a) => a.uri === sum && a.name === `results/2026-12-03/${u}:${sum}`), u);
  }
  const events = await sqlite(mlmd, 'SELECT type, count(*) AS n FROM Event GROUP BY type ORDER BY type');
  assert.deepEqual(events, [{ type: 3, n: 1 }, { type: 4, n: 8 }]);
  assert.deepEqual(await sqlite(mlmd, 'SELECT count(*) AS n FROM Attribution'), [{ n: 9 }]);
  const url = await sqlite(mlmd, "SELECT string_value AS v FROM ArtifactProperty WHERE name='url' AND artifact_id=(SELECT id FROM Artifact WHERE uri='" + modelMd5 + "')");
  assert.match(String(url[0].v), new RegExp(`^smoke:/.*ws-dvc-remote/files/md5/${modelMd5.slice(0, 2)}/${modelMd5.slice(2)}$`));

  // Python's sqlite3: the exact ns timestamp (> 2^53) and the double value
  const out = await python(
    `import sqlite3,sys,json
c=sqlite3.connect('file:'+sys.argv[1]+'?mode=ro',uri=True)
ts=[r[0] for r in c.execute("SELECT int_value FROM ArtifactProperty WHERE name='timestamp_ns' AND artifact_id IN (SELECT a.id FROM Artifact a JOIN Type t ON t.id=a.type_id WHERE t.name='Dataset') ORDER BY int_value")]
v=[r[0] for r in c.execute("SELECT double_value FROM ArtifactProperty WHERE name='value' ORDER BY artifact_id")]
k=[r[0] for r in c.execute("SELECT string_value FROM ArtifactProperty WHERE name='upload_key' ORDER BY artifact_id")]
print(json.dumps({'ts':[str(t) for t in ts],'v':v,'k':k}))`,
    mlmd,
  );
  const py = JSON.parse(out);
  assert.deepEqual(py.ts, ['1796312080879783945', '1796312083103999334', '1796312084318262305', '1796312085530550234']);
  assert.deepEqual(py.v, [0.9416829310744944, 0.9288859981833057, 0.9761880694954699, 0.996923962210569]);
  assert.equal(py.k[0], '1796312080879783945-sample.jpg');

  // status --json counts what the files hold
  const st = await runCli(['status', '--workspace', ws, '--json']);
  assert.equal(st.code, 0, st.stderr);
  const status = JSON.parse(st.stdout);
  assert.equal(status.pipeline, 'smoke');
  assert.equal(status.stage, 'inference');
  assert.equal(status.executions, 1);
  assert.deepEqual(status.artifacts, { Dataset: 4, Model: 1, Metrics: 4 });
  assert.deepEqual(status.models, [{ md5: modelMd5, path: 'models/model.bin', results: 4 }]);
  assert.match(status.lastRecordedAt, /^\d{4}-\d\d-\d\dT/);

  // a second run over the same folder records nothing and commits nothing
  const counts = 'SELECT (SELECT count(*) FROM Artifact)||"/"||(SELECT count(*) FROM Event)||"/"||(SELECT count(*) FROM Execution) AS c';
  const before = await sqlite(mlmd, counts);
  const again = await runCli(args);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /recorded 0 result\(s\) and 0 measurement\(s\)/);
  assert.deepEqual(await sqlite(mlmd, counts), before);
  assert.equal((await git(ws, 'rev-parse', 'HEAD')).trim(), head);
});

test('smokeynet fixture: string measurements and a second model version', async () => {
  const { logdir, model, ws, args } = await setup('pywaggle-smokeynet');
  assert.equal((await runCli(args)).code, 0);
  // new model version, then one more upload
  await fsp.copyFile(path.join(FIXTURES, 'model', 'smoke-model-v2.bin'), model);
  const ts = '1796312099000000001';
  await fsp.writeFile(path.join(logdir, 'uploads', `${ts}-sample_current.jpg`), 'new frame');
  await fsp.appendFile(
    path.join(logdir, 'data.ndjson'),
    `{"meta":{"filename":"sample_current.jpg"},"name":"upload","timestamp":"2026-12-03T15:34:59.000000001","value":"/plugin/logdir/uploads/${ts}-sample_current.jpg"}\n`,
  );
  const run = await runCli([...args, '--settle', '0']);
  assert.equal(run.code, 0, run.stderr);
  const st = JSON.parse((await runCli(['status', '--workspace', ws, '--json'])).stdout);
  assert.equal(st.executions, 2);
  assert.deepEqual(st.artifacts, { Dataset: 7, Model: 2, Metrics: 3 });
  const v2 = await md5(model);
  assert.deepEqual(st.models.map((m: { md5: string; results: number }) => [m.md5, m.results]), [
    [v2, 1],
    [await md5(path.join(FIXTURES, 'model', 'smoke-model-v1.bin')), 6],
  ]);
  const tile = await sqlite(
    path.join(ws, 'mlmd'),
    "SELECT typeof(string_value) AS t, length(string_value) > 100 AS long FROM ArtifactProperty WHERE name='value'",
  );
  assert.deepEqual(tile[0], { t: 'text', long: 1 });
  await execFileP('git', ['fsck', '--full', '--strict'], { cwd: ws });
});

test('a plain results folder (dir mode): every file once, with names kept', async () => {
  const root = await tempDir('e2e-dir-');
  const results = await copyFixture('plain-results', path.join(root, 'results'));
  const model = path.join(root, 'model.bin');
  await fsp.copyFile(path.join(FIXTURES, 'model', 'smoke-model-v1.bin'), model);
  const ws = path.join(root, 'ws');
  const args = ['watch', '--once', '--pipeline', 'plain', '--model', model, '--results', results, '--workspace', ws, '--settle', '0'];
  const run = await runCli(args);
  assert.equal(run.code, 0, run.stderr);
  const names = (await sqlite(path.join(ws, 'mlmd'), "SELECT a.name FROM Artifact a JOIN Type t ON t.id=a.type_id WHERE t.name='Dataset' ORDER BY a.name")).map((r) => String(r.name).split(':')[0]);
  assert.deepEqual(names, [
    'results/detections/frame-0001.json',
    'results/detections/frame-0002.json',
    'results/notiz-ü.txt',
    'results/summary 2026-12-03.csv',
  ]);
  assert.ok((await fsp.readFile(path.join(ws, 'results', 'summary 2026-12-03.csv.dvc'), 'utf8')).includes('path: summary 2026-12-03.csv'));
  await execFileP('git', ['fsck', '--full', '--strict'], { cwd: ws });
  assert.match((await runCli(args)).stdout, /recorded 0 result/);
});

test('an empty results folder: nothing recorded, and status says there is no model version yet', async () => {
  const root = await tempDir('e2e-empty-');
  const results = path.join(root, 'results');
  await fsp.mkdir(results);
  const model = path.join(root, 'model.bin');
  await fsp.copyFile(path.join(FIXTURES, 'model', 'smoke-model-v1.bin'), model);
  const ws = path.join(root, 'ws');
  const run = await runCli(['watch', '--once', '--pipeline', 'p', '--model', model, '--results', results, '--workspace', ws]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /recorded 0 result\(s\) and 0 measurement\(s\)/);
  const st = await runCli(['status', '--workspace', ws]);
  assert.equal(st.code, 0, st.stderr);
  // the versions' column header only above versions
  assert.ok(st.stdout.endsWith('model versions (newest first):\n  (none)\n'), st.stdout);
});

test('bad input: one clear line, exit 2, nothing touched', async () => {
  const { root, model, ws, logdir } = await setup('pywaggle-binary');
  const base = ['watch', '--once', '--pipeline', 'smoke', '--workspace', ws];
  const noResults = await runCli([...base, '--model', model, '--results', path.join(root, 'nope')]);
  assert.equal(noResults.code, 2);
  assert.match(noResults.stderr, /results folder .*nope does not exist/);
  const noEnv = await runCli([...base, '--model', model], { env: { PYWAGGLE_LOG_DIR: undefined } });
  assert.equal(noEnv.code, 2);
  assert.match(noEnv.stderr, /PYWAGGLE_LOG_DIR/);
  const noModel = await runCli([...base, '--model', path.join(root, 'missing.onnx'), '--results', logdir]);
  assert.equal(noModel.code, 2);
  assert.match(noModel.stderr, /model file .*missing\.onnx does not exist/);
  // a message quoting a name with control characters stays one line, the characters visible
  const odd = await runCli(['results', '--file', path.join(root, 'x\u001b[2Jy\nz.db')]);
  assert.equal(odd.code, 2);
  assert.equal(odd.stderr, `cmf-sage: ${path.join(root, 'x\\u001b[2Jy z.db')} does not exist; pass an MLMD (SQLite) file\n`); // (this message already folds newlines)
  const badLevel = await runCli([...base, '--model', model, '--results', logdir], { env: { CMF_SAGE_LOG_LEVEL: 'bogus' } });
  assert.equal(badLevel.code, 2);
  assert.equal(badLevel.stderr.trim(), 'cmf-sage: CMF_SAGE_LOG_LEVEL="bogus" is not a log level: use one of trace, debug, info, warn, error, fatal or silent');
  for (const [name, why] of [['.git', 'also names the git branch'], ['mlmd.lock', 'also names the git branch'], ['HEAD', 'also names the git branch'], ['-x', 'also names the git branch'], ['x..y', 'also names the git branch'], ['results', "workspace's own results folder"]]) {
    const r = await runCli([...base, '--model', model, '--results', logdir, '--mlmd', name!]);
    assert.equal(r.code, 2, name);
    assert.ok(r.stderr.includes(`--mlmd "${name}" ${why === 'also names the git branch' ? why : `is the name of the ${why}`}`), r.stderr);
  }
  const dirModel = await runCli([...base, '--model', root, '--results', logdir]);
  assert.equal(dirModel.code, 2);
  assert.match(dirModel.stderr, /is a directory/);
  assert.equal(await fsp.stat(ws).then(() => true, () => false), false, 'no workspace was created');
  // an mlmd that is not SQLite (a Git LFS pointer) is refused and left as it was
  await fsp.mkdir(ws);
  const lfs = 'version https://git-lfs.github.com/spec/v1\noid sha256:' + 'a'.repeat(64) + '\nsize 123456\n';
  await fsp.writeFile(path.join(ws, 'mlmd'), lfs);
  const notDb = await runCli([...base, '--model', model, '--results', logdir]);
  assert.equal(notDb.code, 2);
  assert.equal(notDb.stderr.trim().split('\n').length, 1);
  assert.match(notDb.stderr, /mlmd.* not an SQLite database/);
  assert.equal(await fsp.readFile(path.join(ws, 'mlmd'), 'utf8'), lfs);
  assert.deepEqual(await fsp.readdir(ws), ['mlmd']);
});

test('odd plugin output never makes the workspace unreadable: int beyond int64, very long names', async () => {
  const { root, logdir, ws, args } = await setup('pywaggle-binary');
  const longName = `1796312099000000001-${'a'.repeat(225)}.jpg`;
  await fsp.writeFile(path.join(logdir, 'uploads', longName), 'long name');
  await fsp.appendFile(
    path.join(logdir, 'data.ndjson'),
    '{"meta":{},"name":"env.big","timestamp":"2026-12-03T15:40:00.000000001","value":18446744073709551616}\n' +
      `{"meta":{"filename":"${'a'.repeat(225)}.jpg"},"name":"upload","timestamp":"2026-12-03T15:34:59.000000001","value":"/p/uploads/${longName}"}\n`,
  );
  const run = await runCli(args);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^recorded 5 result\(s\) and 5 measurement\(s\) in /);
  const big = await sqlite(path.join(ws, 'mlmd'), "SELECT p.string_value AS v FROM ArtifactProperty p WHERE p.name='value' AND p.artifact_id IN (SELECT artifact_id FROM ArtifactProperty WHERE name='measurement' AND string_value='env.big')");
  assert.deepEqual(big, [{ v: '18446744073709551616' }]);
  const key = await sqlite(path.join(ws, 'mlmd'), `SELECT a.name FROM Artifact a JOIN ArtifactProperty p ON p.artifact_id=a.id WHERE p.name='upload_key' AND p.string_value='${longName}'`);
  assert.equal(key.length, 1);
  const pointer = `${String(key[0].name).split(':')[0]}.dvc`;
  assert.ok(Buffer.byteLength(path.basename(pointer)) <= 255);
  await fsp.access(path.join(ws, pointer));
  assert.equal((await runCli(['status', '--workspace', ws, '--json'])).code, 0);
  await execFileP('git', ['fsck', '--full', '--strict'], { cwd: ws });
  void root;
});

test('a workspace keeps its pipeline, stage and mlmd: another one is refused', async () => {
  const { ws, args, root } = await setup('pywaggle-binary');
  assert.equal((await runCli(args)).code, 0);
  const other = args.map((a) => (a === 'smoke' ? 'other' : a));
  const r1 = await runCli(other);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /records --pipeline smoke, not other; use another --workspace/);
  const r2 = await runCli([...args, '--mlmd', 'second']);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /records --mlmd mlmd, not second/);
  const file = path.join(root, 'a-file');
  await fsp.writeFile(file, 'x');
  const r3 = await runCli(args.map((a) => (a === ws ? file : a)));
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /is not a folder/);
  // the commands that read a workspace say the same, in one line, exit 2 (not a disk error's 74)
  for (const cmd of ['status', 'models', 'results', 'graph']) {
    const r = await runCli([cmd, '--workspace', file]);
    assert.equal(r.code, 2, `${cmd}: ${r.stderr}`);
    assert.equal(r.stderr.trim(), `cmf-sage: workspace ${file} is not a folder; pass the workspace folder with --workspace`, cmd);
  }
  const inFile = await runCli(['lineage', '--workspace', path.join(file, 'sub'), 'x']);
  assert.equal(inFile.code, 2, inFile.stderr);
  assert.match(inFile.stderr, /^cmf-sage: workspace .*a-file\/sub is not a folder; pass the workspace folder with --workspace\n$/);
  // a damaged workspace.json is named, never taken as "no settings yet" (which would let another pipeline in)
  const settings = path.join(ws, '.cmf-sage', 'workspace.json');
  const good = await fsp.readFile(settings, 'utf8');
  await fsp.writeFile(settings, '{');
  for (const cmd of [other, ['status', '--workspace', ws], ['push', '--workspace', ws, '--to', `dir:${root}`, '--dry-run'], ['push', '--workspace', ws, '--to', `dir:${root}`]]) {
    const r = await runCli(cmd);
    assert.equal(r.code, 2, `${cmd[0]}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(r.stderr.includes(`${settings} is damaged (it names the workspace's pipeline, stage and mlmd file); restore it from a backup`), r.stderr);
  }
  assert.equal(await fsp.readFile(settings, 'utf8'), '{', 'left as it was');
  await fsp.writeFile(settings, good);
  assert.equal((await runCli(['status', '--workspace', ws])).code, 0);
});

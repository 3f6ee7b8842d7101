import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { copyFixture, FIXTURES, runCli, sqlite, tempDir } from './helpers.js';

test('closed executions are sealed into a segment once the live mlmd holds --segment-results results', async () => {
  const root = await tempDir('seg-');
  const logdir = await copyFixture('pywaggle-binary/logdir', path.join(root, 'logdir'));
  const model = path.join(root, 'model.bin');
  await fsp.copyFile(path.join(FIXTURES, 'model', 'smoke-model-v1.bin'), model);
  const ws = path.join(root, 'ws');
  const run = await runCli(['watch', '--once', '--pipeline', 'smoke', '--model', model, '--results', logdir, '--workspace', ws, '--segment-results', '5']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /segment sealed/);
  const segDir = path.join(ws, '.cmf-sage', 'segments', '000001');
  const manifest = JSON.parse(await fsp.readFile(path.join(segDir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.segment, '000001');
  assert.equal(manifest.pipeline, 'smoke');
  assert.deepEqual(manifest.counts, { executions: 1, Dataset: 4, Model: 1, Metrics: 4 });
  assert.equal(manifest.pointers.length, 5);
  assert.equal(manifest.executions.length, 1);
  // the segment is a complete MLMD file of its own; the live one no longer holds the execution
  const seg = path.join(segDir, 'mlmd');
  assert.deepEqual(await sqlite(seg, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
  assert.deepEqual(await sqlite(seg, 'SELECT schema_version AS v FROM MLMDEnv'), [{ v: 10 }]);
  assert.deepEqual(await sqlite(seg, "SELECT name FROM Context ORDER BY id"), [{ name: 'smoke' }, { name: 'smoke/inference' }]);
  assert.deepEqual(await sqlite(seg, 'SELECT count(*) AS n FROM Event'), [{ n: 9 }]);
  assert.deepEqual(await sqlite(seg, "SELECT string_value AS u FROM ExecutionProperty WHERE name='Execution_uuid'"), [{ u: manifest.executions[0] }]);
  const live = path.join(ws, 'mlmd');
  assert.deepEqual(await sqlite(live, 'SELECT count(*) AS n FROM Execution'), [{ n: 0 }]);
  assert.deepEqual(await sqlite(live, 'SELECT count(*) AS n FROM Artifact'), [{ n: 0 }]);
  assert.deepEqual(await sqlite(live, 'SELECT count(*) AS n FROM Context'), [{ n: 2 }]);
  // ids stay unique: the next execution continues after the sealed one
  await fsp.appendFile(path.join(logdir, 'data.ndjson'), '{"meta":{},"name":"env.smoke.certainty","timestamp":"2026-12-03T15:50:00.000000001","value":0.5}\n');
  assert.equal((await runCli(['watch', '--once', '--pipeline', 'smoke', '--model', model, '--results', logdir, '--workspace', ws, '--segment-results', '5'])).code, 0);
  assert.deepEqual(await sqlite(live, 'SELECT id FROM Execution'), [{ id: 2 }]);
  // status counts the segment and the live mlmd together
  const st = JSON.parse((await runCli(['status', '--workspace', ws, '--json'])).stdout);
  assert.equal(st.executions, 2);
  assert.deepEqual(st.artifacts, { Dataset: 4, Model: 1, Metrics: 5 });
  assert.equal(st.segments, 1);
  assert.equal(st.models[0].results, 4);
  // status reads the segment's summary, which agrees with its manifest ...
  const summary = JSON.parse(await fsp.readFile(path.join(segDir, 'summary.json'), 'utf8'));
  assert.deepEqual(summary.counts, manifest.counts);
  assert.deepEqual(summary.models, manifest.models);
  assert.equal(summary.lastRecordedAt, manifest.lastRecordedAt);
  assert.deepEqual(summary.executions, manifest.executions);
  assert.equal(summary.executions.length, manifest.counts.executions);
  const sizes = new Map<string, number>(manifest.pointers.map((p: { md5: string; size: number }) => [p.md5, p.size]));
  assert.equal(summary.objectBytes, [...sizes.values()].reduce((a, b) => a + b, 0));
  assert.equal(st.push.pending.bytes, summary.objectBytes + (await fsp.stat(seg)).size);
  // ... and a segment sealed before summaries existed is summarised from its manifest, with the same answer
  await fsp.rm(path.join(segDir, 'summary.json'));
  const again = JSON.parse((await runCli(['status', '--workspace', ws, '--json'])).stdout);
  assert.deepEqual({ ...again, lastRecordedAt: null }, { ...st, lastRecordedAt: null });
  // a damaged summary (valid JSON of the wrong shape, or not JSON) is not trusted: the manifest answers
  for (const bad of ['{}', '[]', 'null', '{"segment":"000001","counts":"x"}', '{"segment":']) {
    await fsp.writeFile(path.join(segDir, 'summary.json'), bad);
    const r = await runCli(['status', '--workspace', ws, '--json']);
    assert.equal(r.code, 0, `${bad}: ${r.stderr}`);
    assert.deepEqual({ ...JSON.parse(r.stdout), lastRecordedAt: null }, { ...st, lastRecordedAt: null }, bad);
    const q = await runCli(['results', '--workspace', ws, '--model', 'latest', '--json']);
    assert.equal(q.code, 0, `${bad}: ${q.stderr}`);
    assert.equal(JSON.parse(q.stdout).count, 9, bad);
  }
  // summary and manifest both unreadable: status says so (nothing counted silently), cmf-server delivery refuses it by name
  assert.deepEqual(st.unreadableSegments, []);
  const manifestText = await fsp.readFile(path.join(segDir, 'manifest.json'), 'utf8');
  await fsp.writeFile(path.join(segDir, 'manifest.json'), '{"segment":');
  const damaged = await runCli(['status', '--workspace', ws, '--json']);
  assert.equal(damaged.code, 0, damaged.stderr);
  assert.deepEqual(JSON.parse(damaged.stdout).unreadableSegments, ['000001']);
  assert.match((await runCli(['status', '--workspace', ws])).stdout, /^warning +segment folder\(s\) 000001 have no readable manifest\.json or summary\.json/m);
  const plan = await runCli(['push', '--to', 'cmf-server', '--cmf-server', 'http://127.0.0.1:9', '--dry-run', '--workspace', ws]);
  assert.notEqual(plan.code, 0);
  assert.match(plan.stderr, /segment manifest .*000001.manifest\.json is not valid JSON.*cannot be pushed/);
  assert.equal(plan.stderr.trim().split('\n').length, 1, plan.stderr);
  // a manifest that is gone altogether: the same, for every push target and for export
  await fsp.rm(path.join(segDir, 'manifest.json'));
  assert.deepEqual(JSON.parse((await runCli(['status', '--workspace', ws, '--json'])).stdout).unreadableSegments, ['000001']);
  for (const args of [
    ['push', '--to', `dir:${path.join(root, 'out')}`, '--no-seal'],
    ['push', '--to', 'cmf-server', '--cmf-server', 'http://127.0.0.1:9', '--dry-run'],
  ]) {
    const r = await runCli([...args, '--workspace', ws]);
    assert.equal(r.code, 70, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim(), `cmf-sage: segment folder ${segDir} has no manifest.json, so its lineage cannot be pushed; restore the folder from a backup, or move it out of ${path.dirname(segDir)}`);
  }
  for (const args of [['--all'], ['--segment', '1']]) {
    const r = await runCli(['export', '--format', 'cmf-json', '--workspace', ws, ...args]);
    assert.equal(r.code, 70, r.stderr);
    assert.match(r.stderr, /segment folder\(s\) 000001 in .* have no readable manifest\.json, so their lineage cannot be exported/);
  }
  await fsp.writeFile(path.join(segDir, 'manifest.json'), manifestText);
  assert.deepEqual(JSON.parse((await runCli(['status', '--workspace', ws, '--json'])).stdout).unreadableSegments, []);
});

test('push asks a running watch to seal; without a watch it seals itself', async () => {
  const { sealForPush } = await import('../src/recorder/offline.js');
  const { WatchProcess } = await import('./watch-process.js');
  const { ResultWriter } = await import('./durability-helpers.js');
  const { silentLogger } = await import('../src/log.js');
  const root = await tempDir('seal-push-');
  const logdir = path.join(root, 'logdir');
  const model = path.join(root, 'model.bin');
  await fsp.copyFile(path.join(FIXTURES, 'model', 'smoke-model-v1.bin'), model);
  const ws = path.join(root, 'ws');
  const writer = new ResultWriter(logdir);
  await writer.init();
  const args = ['--pipeline', 'p', '--model', model, '--results', logdir, '--workspace', ws, '--settle', '0'];
  const w = new WatchProcess([...args, '--window', '0.5']);
  try {
    await w.waitFor((l) => l.msg === 'watching');
    await writer.add();
    await w.waitFor((l) => l.msg === 'execution closed');
    assert.equal(await sealForPush(ws, silentLogger(), { waitMs: 10_000 }), 'sealed-by-watch');
    await w.waitFor((l) => l.msg === 'segment sealed');
  } finally {
    assert.equal((await w.stop()).code, 0);
  }
  // no watch now: seal here
  await writer.add();
  assert.equal((await runCli(['watch', '--once', ...args])).code, 0);
  assert.equal(await sealForPush(ws, silentLogger()), 'sealed');
  assert.equal(await sealForPush(ws, silentLogger()), 'nothing-to-seal');
  const segs = (await fsp.readdir(path.join(ws, '.cmf-sage', 'segments'))).sort();
  assert.deepEqual(segs, ['000001', '000002']);
  assert.deepEqual(await sqlite(path.join(ws, 'mlmd'), 'SELECT count(*) AS n FROM Execution'), [{ n: 0 }]);
  // watch carries on after an offline seal, and the invariants hold across segments
  await writer.add();
  assert.equal((await runCli(['watch', '--once', ...args])).code, 0);
  const st = JSON.parse((await runCli(['status', '--workspace', ws, '--json'])).stdout);
  assert.equal(st.artifacts.Dataset, 3);
  assert.equal(st.artifacts.Metrics, 3);
  assert.equal(st.executions, 3);
});

test('push --dry-run lists the closed executions a real push would seal first, for every target', async () => {
  const root = await tempDir('seal-preview-');
  const logdir = await copyFixture('pywaggle-binary/logdir', path.join(root, 'logdir'));
  const ws = path.join(root, 'ws');
  const watch = await runCli(['watch', '--once', '--pipeline', 'smoke', '--model', path.join(FIXTURES, 'model', 'smoke-model-v1.bin'), '--results', logdir, '--workspace', ws]);
  assert.equal(watch.code, 0, watch.stderr);
  const out = path.join(root, 'out');
  await fsp.mkdir(out);
  const line = 'would first seal 1 closed execution(s) (8 result(s) and measurement(s)) from the live mlmd into a new segment, and deliver it too';
  const dir = await runCli(['push', '--workspace', ws, '--to', `dir:${out}`, '--dry-run']);
  assert.equal(dir.code, 0, dir.stderr);
  assert.equal(dir.stdout, `${line}\n`);
  assert.deepEqual(JSON.parse((await runCli(['push', '--workspace', ws, '--to', `dir:${out}`, '--dry-run', '--json'])).stdout).toSeal, { executions: 1, results: 8 });
  const server = ['push', '--workspace', ws, '--to', 'cmf-server', '--cmf-server', 'http://127.0.0.1:9', '--dry-run'];
  assert.equal((await runCli(server)).stdout, `${line}\n`);
  const plan = JSON.parse((await runCli([...server, '--json'])).stdout);
  assert.deepEqual({ ...plan, segments: plan.segments.length }, { target: { kind: 'cmf-server', where: 'http://127.0.0.1:9' }, dryRun: true, toSeal: { executions: 1, results: 8 }, segments: 0 });
  // a target that cannot work is refused before anything is sealed, in a dry run too
  const file = path.join(root, 'a-file');
  await fsp.writeFile(file, '');
  for (const [to, message] of [
    [`dir:${file}`, `--to dir:${file}: ${file} is a file, not a folder; give a folder`],
    [`dir:${path.join(ws, 'out')}`, `--to dir:${path.join(ws, 'out')} is inside the workspace ${ws}, where archives would land among its own files; choose a folder outside it`],
  ] as const) {
    for (const dry of [[], ['--dry-run']]) {
      const r = await runCli(['push', '--workspace', ws, '--to', to, ...dry]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim(), `cmf-sage: ${message}`);
    }
  }
  const noApp = await runCli(['push', '--workspace', ws, '--to', 'waggle'], { env: { WAGGLE_APP_ID: '', WAGGLE_PLUGIN_UPLOAD_PATH: out } });
  assert.equal(noApp.code, 2);
  assert.match(noApp.stderr, /WAGGLE_APP_ID is not set/);
  // the dry runs and refused pushes wrote nothing; a real push seals and delivers it, and then there is nothing left
  assert.deepEqual(await fsp.readdir(path.join(ws, '.cmf-sage', 'segments')).catch(() => []), []);
  await assert.rejects(fsp.stat(path.join(ws, 'out')));
  assert.equal((await runCli(['push', '--workspace', ws, '--to', `dir:${out}`])).code, 0);
  assert.equal((await fsp.readdir(out)).filter((n) => n.endsWith('.tar.gz')).length, 1);
  assert.equal((await runCli(['push', '--workspace', ws, '--to', `dir:${out}`, '--dry-run'])).stdout, 'nothing to push (1 segment(s) already delivered to dir)\n');
});

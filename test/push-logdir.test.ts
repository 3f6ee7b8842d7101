import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { execFileP, REPO, runCli, sqlite } from './helpers.js';
import { runToExit } from './durability-helpers.js';
import { addUploads, checkUnpacked, recordFixture, sealForTest, sha1Of, untar, watchOnce } from './push-helpers.js';
import { pushStatus, pywaggleTimestamp, readDelivery } from '../src/push/index.js';

test('pywaggle\'s lossy run-log timestamp is reproduced exactly (rounding, carry, zero microseconds, local time)', async () => {
  const cases = [
    1796312074950677949n, // the fixture's first upload → ...34.950678949
    1726851792345678901n, // waggle.md's example → .345679901
    1726851792000000123n, // microseconds 0: no fraction
    1726851792999999600n, // rounds up into the next second
    1726851792000000500n, // half a microsecond after the float division
    1796312080879783945n,
    946706400000000000n,
  ];
  for (let i = 0; i < 40; i++) cases.push(1796312074950677949n + BigInt(i) * 987_654_321_987n + BigInt(i * 499));
  for (const tz of ['UTC', 'America/Chicago', 'Asia/Kolkata']) {
    process.env.TZ = tz;
    const ours = cases.map((c) => pywaggleTimestamp(c));
    const { stdout } = await execFileP('python3', ['-c', `import sys,datetime\nfor a in sys.argv[1:]:\n  ns=int(a); print(datetime.datetime.fromtimestamp(ns/1e9).isoformat() + f"{ns%1000:03d}")`, ...cases.map(String)], {
      env: { ...process.env, TZ: tz },
    });
    assert.deepEqual(ours, stdout.trim().split('\n'), tz);
  }
  process.env.TZ = 'UTC';
  assert.equal(pywaggleTimestamp(1796312074950677949n), '2026-12-03T15:34:34.950678949');
});

test('push --to logdir copies to uploads/<ts>-<name> and appends pywaggle\'s upload line; watch never records the archive', async () => {
  const t = await recordFixture('pywaggle-smokeynet');
  const seg = await sealForTest(t.ws, { sealedAt: '2026-12-03T15:34:40Z' });
  const env = { PYWAGGLE_LOG_DIR: t.logdir, TZ: 'America/Chicago', WAGGLE_PLUGIN_UPLOAD_PATH: '' };
  const linesBefore = (await fsp.readFile(path.join(t.logdir, 'data.ndjson'), 'utf8')).split('\n').length;
  // no --to: only PYWAGGLE_LOG_DIR is set, so the log dir is the default target
  const run = await runCli(['push', '--workspace', t.ws], { env });
  assert.equal(run.code, 0, run.stderr);
  const archive = 'cmf_archive_smoke_20261203T153440Z_000001.tar.gz';
  const st = (await readDelivery(seg.dir, '000001')).targets[`logdir:${t.logdir}`];
  assert.equal(st.phase, 'confirmed');
  assert.equal(st.location, path.join(t.logdir, 'uploads', `${st.ts}-${archive}`));
  const data = await fsp.readFile(st.location);
  assert.equal(sha1Of(data), st.sha1);
  const lines = (await fsp.readFile(path.join(t.logdir, 'data.ndjson'), 'utf8')).split('\n');
  assert.equal(lines.length, linesBefore + 1);
  const last = lines[lines.length - 2];
  // pywaggle's FilesystemPublisher line, computed by Python in the same time zone
  const { stdout: expected } = await execFileP(
    'python3',
    [
      '-c',
      `import sys,json,datetime; ns=int(sys.argv[1]); print(json.dumps({"name":"upload","value":sys.argv[3],"meta":{"filename":sys.argv[2]},"timestamp":datetime.datetime.fromtimestamp(ns/1e9).isoformat()+f"{ns%1000:03d}"}, sort_keys=True, separators=(",",":")), end="")`,
      st.ts,
      archive,
      st.location,
    ],
    { env: { ...process.env, TZ: env.TZ } },
  );
  assert.equal(last, expected);
  await checkUnpacked(await untar(st.location), seg, t.ws);

  // watch reads the same run log: the archive's upload line is not a result
  const count = async () => (await sqlite(path.join(t.ws, 'mlmd'), "SELECT count(*) AS n FROM Artifact WHERE name LIKE '%cmf_archive_%'"))[0].n;
  const out = await watchOnce(t);
  assert.match(out, /recorded 0 result\(s\) and 0 measurement\(s\)/);
  assert.equal(await count(), 0);
  assert.equal((await execFileP('git', ['ls-files', '*cmf_archive*'], { cwd: t.ws })).stdout, '');
});

test('kill -9 between the copy and the line, or after the line: the next push leaves exactly one copy and one line', async () => {
  for (const point of ['push.prepared', 'push.copied', 'push.line-appended']) {
    const t = await recordFixture('pywaggle-binary');
    const seg = await sealForTest(t.ws);
    const env = { PYWAGGLE_LOG_DIR: t.logdir, WAGGLE_PLUGIN_UPLOAD_PATH: '' };
    const killed = await runToExit(['push', '--workspace', t.ws, '--to', 'logdir'], { ...env, CMF_SAGE_CRASH_AT: point });
    assert.equal(killed.signal, 'SIGKILL', `${point}: ${killed.stderr}`);
    const ok = await runCli(['push', '--workspace', t.ws, '--to', 'logdir'], { env });
    assert.equal(ok.code, 0, ok.stderr);
    const text = await fsp.readFile(path.join(t.logdir, 'data.ndjson'), 'utf8');
    assert.equal(text.split('\n').filter((l) => l.includes('cmf_archive_')).length, 1, point);
    const copies = (await fsp.readdir(path.join(t.logdir, 'uploads'))).filter((n) => n.includes('cmf_archive_'));
    assert.equal(copies.length, 1, `${point}: ${copies.join(' ')}`);
    const st = (await readDelivery(seg.dir, '000001')).targets[`logdir:${t.logdir}`];
    assert.equal(path.basename(st.location), copies[0]);
  }
});

test('--to dir:PATH copies the archive atomically; re-running sends nothing; --keep-segments and --keep-cache free space only where safe', async () => {
  const t = await recordFixture('pywaggle-smokeynet');
  const prune = { pruneLive: true };
  const s1 = await sealForTest(t.ws, prune);
  // second segment: a new model version and new results
  await fsp.copyFile(path.join(REPO, 'fixtures', 'model', 'smoke-model-v2.bin'), t.model);
  await addUploads(t.logdir, 2, 1796312095000000000n);
  await watchOnce(t);
  const s2 = await sealForTest(t.ws, prune);
  const v1 = s1.manifest.pointers.find((p: { path: string }) => p.path.startsWith('models/')).md5 as string;
  const v2 = s2.manifest.pointers.find((p: { path: string }) => p.path.startsWith('models/')).md5 as string;
  assert.notEqual(v1, v2);
  const obj = (md5: string) => path.join(t.ws, '.dvc', 'cache', 'files', 'md5', md5.slice(0, 2), md5.slice(2));
  const dest = path.join(t.root, 'outbox');
  const status0 = await pushStatus(t.ws);
  assert.deepEqual(status0.pending.segments, ['000001', '000002']);
  assert.equal(status0.pending.executions, 2);
  assert.ok(status0.pending.bytes > 0);
  assert.equal(status0.segmentsKept, 2);

  // default --keep-cache model: model versions stay
  const run = await runCli(['push', '--workspace', t.ws, '--to', `dir:${dest}`, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const summary = JSON.parse(run.stdout);
  assert.deepEqual(summary.segments.map((s: { segment: string; status: string }) => [s.segment, s.status]), [['000001', 'delivered'], ['000002', 'delivered']]);
  assert.deepEqual((await fsp.readdir(dest)).sort(), summary.segments.map((s: { archive: string }) => s.archive).sort());
  for (const s of summary.segments) assert.equal(sha1Of(await fsp.readFile(path.join(dest, s.archive))), s.sha1);
  await fsp.access(obj(v1));
  assert.equal(summary.pruned.cacheObjects, 0);

  // delivered everywhere asked: --keep-segments 1 --keep-cache none
  const again = await runCli(['push', '--workspace', t.ws, '--to', `dir:${dest}`, '--keep-segments', '1', '--keep-cache', 'none', '--json']);
  assert.equal(again.code, 0, again.stderr);
  const s = JSON.parse(again.stdout);
  assert.equal(s.segments.length, 0);
  assert.deepEqual(s.pruned.segments, ['000001']);
  // v1 is named by nothing current (not HEAD, not the live mlmd, no pending segment): removed.
  // v2 is HEAD's model; every result pointer is still in HEAD: kept.
  assert.equal(s.pruned.cacheObjects, 1);
  await assert.rejects(fsp.access(obj(v1)));
  await fsp.access(obj(v2));
  for (const p of s2.manifest.pointers) await fsp.access(obj(p.md5));
  for (const p of s1.manifest.pointers.filter((q: { path: string }) => q.path.startsWith('results/'))) await fsp.access(obj(p.md5));
  assert.deepEqual((await fsp.readdir(path.join(t.ws, '.cmf-sage', 'segments'))).sort(), ['000002']);
  const st = await pushStatus(t.ws);
  assert.equal(st.segmentsKept, 1);
  assert.equal(st.lastDelivery?.segment, '000002');
  assert.equal(st.lastDelivery?.target, `dir:${dest}`);
  // the workspace is still sound and watch carries on
  await execFileP('git', ['fsck', '--full', '--strict'], { cwd: t.ws });
  await addUploads(t.logdir, 1, 1796312099000000000n);
  assert.match(await watchOnce(t), /recorded 1 result\(s\)/);
});

test('a damaged or missing segment mlmd is not shipped: one line naming it, exit 2, later segments wait; once restored it goes out', async () => {
  const t = await recordFixture('pywaggle-smokeynet');
  const s1 = await sealForTest(t.ws, { pruneLive: true });
  await addUploads(t.logdir, 2, 1796312095000000000n);
  await watchOnce(t);
  await sealForTest(t.ws, { pruneLive: true });
  const mlmd = path.join(s1.dir, 'mlmd');
  const good = await fsp.readFile(mlmd);
  const dest = path.join(t.root, 'outbox');
  for (const [damage, problem] of [
    [() => fsp.writeFile(mlmd, good.subarray(0, 5000)), 'is a damaged SQLite database'],
    [() => fsp.rm(mlmd), "is missing, so this kept segment's lineage cannot be delivered"],
    [() => fsp.writeFile(mlmd, ''), "is empty, so this kept segment's lineage cannot be delivered"],
  ] as const) {
    await damage();
    const r = await runCli(['push', '--workspace', t.ws, '--to', `dir:${dest}`, '--no-seal']);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
    assert.deepEqual(lines.length, 1, r.stderr);
    assert.ok(lines[0]!.startsWith(`cmf-sage: ${mlmd} ${problem}`), lines[0]);
    assert.equal(await fsp.readdir(dest).then((d) => d.length, () => 0), 0, 'nothing delivered');
    assert.deepEqual((await pushStatus(t.ws)).pending.segments, ['000001', '000002']);
  }
  await fsp.writeFile(mlmd, good);
  const ok = await runCli(['push', '--workspace', t.ws, '--to', `dir:${dest}`, '--no-seal', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout).segments.map((s: { status: string }) => s.status), ['delivered', 'delivered']);
});

test('a target that cannot be chosen, a workspace that is not one: one line, exit 2', async () => {
  const t = await recordFixture('pywaggle-binary');
  const none = await runCli(['push', '--workspace', t.ws], { env: { PYWAGGLE_LOG_DIR: '', WAGGLE_PLUGIN_UPLOAD_PATH: '' } });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^cmf-sage: no delivery target: pass --to waggle\|logdir\|dir:PATH\|cmf-server,/m);
  const bad = await runCli(['push', '--workspace', t.ws, '--to', 'ftp://x']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--to "ftp:\/\/x" is not a target: use waggle, logdir, dir:PATH or cmf-server$/m);
  for (const to of [['--to', 'dir:/tmp/x'], ['--to', 'cmf-server', '--dry-run'], ['--to', 'cmf-server']]) {
    const notWs = await runCli(['push', '--workspace', t.logdir, ...to]);
    assert.equal(notWs.code, 2, to.join(' '));
    assert.equal(notWs.stderr.trim(), `cmf-sage: ${t.logdir} is not a cmf-sage workspace (no .cmf-sage/); pass --workspace or run watch first`);
  }
  const misplaced = await runCli(['push', '--workspace', t.ws, '--to', `dir:${path.join(t.root, 'o')}`, '--git', '--token-file', 'x']);
  assert.equal(misplaced.code, 2);
  assert.equal(misplaced.stderr.trim(), 'cmf-sage: --git, --token-file only apply to --to cmf-server; drop them or pass --to cmf-server');
  const empty = await runCli(['push', '--workspace', t.ws, '--to', `dir:${path.join(t.root, 'o')}`, '--no-seal']);
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stdout, /nothing to push \(0 segment\(s\) already delivered to dir\)/);
});

test('push first seals what watch closed (the recorder\'s real sealing), then delivers it; the archive passes the workspace checks', async () => {
  const t = await recordFixture('pywaggle-smokeynet');
  const dest = path.join(t.root, 'outbox');
  const run = await runCli(['push', '--workspace', t.ws, '--to', `dir:${dest}`, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const summary = JSON.parse(run.stdout);
  assert.deepEqual(summary.segments.map((s: { segment: string; status: string }) => [s.segment, s.status]), [['000001', 'delivered']]);
  const segDir = path.join(t.ws, '.cmf-sage', 'segments', '000001');
  const manifest = JSON.parse(await fsp.readFile(path.join(segDir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.counts.Dataset, 6);
  await checkUnpacked(await untar(path.join(dest, summary.segments[0].archive)), { manifest }, t.ws);
  // --no-seal with nothing sealed: nothing to do
  const again = await runCli(['push', '--workspace', t.ws, '--to', `dir:${dest}`, '--no-seal']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /nothing to push/);
});

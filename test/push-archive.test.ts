import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { execFileP, git, REPO, tempDir } from './helpers.js';
import { addUploads, checkUnpacked, recordFixture, sealForTest, untar, watchOnce } from './push-helpers.js';
import { archiveName, buildArchive, listSealedSegments, measureArchive, planArchive } from '../src/push/index.js';
import { header, padding, trailer } from '../src/push/tar-writer.js';

async function onePlan(ws: string, n = 0) {
  const segs = await listSealedSegments(ws);
  return planArchive(ws, segs[n]);
}

test('a sealed segment packages into a cmf workspace that sqlite3, md5sum, git fsck and sha256sum accept', async () => {
  const t = await recordFixture('pywaggle-smokeynet');
  const seg = await sealForTest(t.ws, { sealedAt: '2026-12-03T15:34:40.123Z' });
  const out = await tempDir('archive-');
  const built = await buildArchive(await onePlan(t.ws), out);
  assert.equal(built.name, 'cmf_archive_smoke_20261203T153440Z_000001.tar.gz');
  assert.equal((await execFileP('sha1sum', [built.file])).stdout.split(' ')[0], built.sha1);
  assert.equal((await fsp.stat(built.file)).size, built.size);
  const dir = await untar(built.file);
  const inside = await checkUnpacked(dir, seg, t.ws);
  assert.equal(inside.mlmd, 'mlmd');
  assert.deepEqual(inside.git.shallow.length, 1, 'only the segment\'s commits travel (shallow at its first Git_Start_Commit)');
  for (const f of ['.cmfconfig', '.dvc/config', '.dvc/.gitignore', '.dvcignore', '.gitignore']) {
    assert.equal(await fsp.readFile(path.join(dir, f), 'utf8'), await git(t.ws, 'show', `HEAD:${f}`), f);
  }
  // `cmf init` on the unpacked folder runs `git remote set-url cmf_origin <url>`: that must work
  await execFileP('git', ['remote', 'set-url', 'cmf_origin', 'https://example.invalid/cmf.git'], { cwd: dir });
  assert.match(await git(dir, 'remote', '-v'), /^cmf_origin\thttps:\/\/example\.invalid\/cmf\.git \(fetch\)/);
  // tar listing: fixed owner, one mtime (the sealing time), DVC objects read-only
  const listing = (await execFileP('tar', ['--numeric-owner', '--full-time', '-tvzf', built.file])).stdout.trim().split('\n');
  for (const line of listing) {
    assert.match(line, /^[d-][rwx-]{9} 0\/0 +\d+ 2026-12-03 15:34:40 /, line);
    if (/\.dvc\/cache\/files\/md5\/..\/./.test(line)) assert.match(line, /^-r--r--r-- /, line);
  }
  // gzip header: no time stamp, no file name (bytes 4-7 mtime = 0, FLG = 0)
  const head = (await fsp.readFile(built.file)).subarray(0, 10);
  assert.deepEqual([...head.subarray(0, 8)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
  // Python's tarfile reads it too
  const py = await execFileP('python3', ['-c', 'import sys,tarfile; t=tarfile.open(sys.argv[1]); print(len(t.getnames()))', built.file]);
  assert.equal(Number(py.stdout.trim()), listing.length);
});

test('packaging is deterministic: the same segment gives byte-identical archives, wherever the workspace lives', async () => {
  const t = await recordFixture('pywaggle-binary');
  await sealForTest(t.ws);
  const a = await buildArchive(await onePlan(t.ws), await tempDir('det-a-'));
  const b = await buildArchive(await onePlan(t.ws), await tempDir('det-b-'));
  const moved = path.join(await tempDir('det-ws-'), 'elsewhere');
  await execFileP('cp', ['-a', t.ws, moved]);
  await fsp.utimes(path.join(moved, 'mlmd'), new Date(), new Date()); // times on disk do not matter
  const c = await buildArchive(await onePlan(moved), await tempDir('det-c-'));
  const d = await measureArchive(await onePlan(t.ws));
  assert.equal(a.sha1, b.sha1);
  assert.equal(a.sha1, c.sha1);
  assert.deepEqual(d, { size: a.size, sha1: a.sha1 });
  assert.ok((await fsp.readFile(a.file)).equals(await fsp.readFile(c.file)));
});

test('a second segment carries only its own executions and the new model version; earlier segments are untouched', async () => {
  const t = await recordFixture('pywaggle-smokeynet');
  await sealForTest(t.ws);
  await fsp.copyFile(path.join(REPO, 'fixtures', 'model', 'smoke-model-v2.bin'), t.model);
  await addUploads(t.logdir, 3, 1796312090000000000n);
  await watchOnce(t);
  const seg2 = await sealForTest(t.ws);
  assert.equal(seg2.id, '000002');
  const built = await buildArchive(await onePlan(t.ws, 1), await tempDir('seg2-'));
  assert.match(built.name, /_000002\.tar\.gz$/);
  const dir = await untar(built.file);
  const inside = await checkUnpacked(dir, seg2, t.ws);
  assert.equal(inside.counts.Dataset, 3);
  const v2 = (await execFileP('md5sum', [t.model])).stdout.split(' ')[0];
  assert.match(await fsp.readFile(path.join(dir, 'models', 'model.bin.dvc'), 'utf8'), new RegExp(`md5: ${v2}`));
  // results of segment 1 are not in segment 2's working files
  const results = (await execFileP('find', ['results', '-name', '*.dvc'], { cwd: dir })).stdout.trim().split('\n');
  assert.equal(results.length, 3);
});

test('archive names are URL-safe whatever the pipeline is called', () => {
  assert.equal(archiveName('wild fire/ü:x?#', '2026-12-03T15:34:40.999Z', '000007'), 'cmf_archive_wild-fire-u-x_20261203T153440Z_000007.tar.gz');
  assert.equal(archiveName('___', '2026-01-02T03:04:05Z', '000001'), 'cmf_archive_____20260102T030405Z_000001.tar.gz');
  assert.equal(archiveName('///', '2026-01-02T03:04:05Z', '000001'), 'cmf_archive_pipeline_20260102T030405Z_000001.tar.gz');
  for (const n of ['a b', 'ü', '%2F', 'x'.repeat(300)]) assert.match(archiveName(n, '2026-01-02T03:04:05Z', '000001'), /^[A-Za-z0-9._-]+$/);
});

test('long and non-ASCII names go into pax headers that GNU tar and Python read back exactly', async () => {
  const names = [`results/2026-12-03/${'x'.repeat(120)}-frame.jpg.dvc`, 'results/notiz-ü.txt.dvc', 'short.txt'];
  const parts: Buffer[] = [];
  let n = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    n += b.length;
  };
  for (const name of names) {
    const body = Buffer.from(`content of ${name}\n`);
    push(header({ path: name, type: 'file', mode: 0o644, size: body.length, mtime: 1796312080 }));
    push(body);
    push(padding(body.length));
  }
  push(trailer(n));
  const dir = await tempDir('pax-');
  const file = path.join(dir, 'x.tar');
  await fsp.writeFile(file, Buffer.concat(parts));
  assert.equal((await fsp.stat(file)).size % 10240, 0);
  const listed = (await execFileP('tar', ['-tf', file])).stdout.trim().split('\n');
  assert.deepEqual(listed, names);
  await execFileP('tar', ['-xf', file, '-C', dir]);
  for (const name of names) assert.equal(await fsp.readFile(path.join(dir, name), 'utf8'), `content of ${name}\n`);
  const py = await execFileP('python3', ['-c', 'import sys,tarfile,json; print(json.dumps(tarfile.open(sys.argv[1]).getnames()))', file]);
  assert.deepEqual(JSON.parse(py.stdout), names);
});

test('a large cache object is streamed: packaging 300 MiB keeps the process small', async () => {
  const t = await recordFixture('pywaggle-binary');
  // A 300 MiB upload, written in 1 MiB steps (this test process stays small too).
  const name = '1796312099000000000-big.bin';
  const ws = createWriteStream(path.join(t.logdir, 'uploads', name));
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < 300; i++) {
    chunk.fill(i % 251);
    chunk.writeUInt32LE(i, 0);
    if (!ws.write(chunk)) await once(ws, 'drain');
  }
  ws.end();
  await once(ws, 'finish');
  await fsp.appendFile(
    path.join(t.logdir, 'data.ndjson'),
    `{"meta":{"filename":"big.bin"},"name":"upload","timestamp":"2026-12-03T15:34:59.000000000","value":"/plugin/logdir/uploads/${name}"}\n`,
  );
  await watchOnce(t);
  await sealForTest(t.ws);
  const script = `
    const { listSealedSegments, planArchive, buildArchive } = await import(${JSON.stringify(path.join(REPO, 'dist/src/push/index.js'))});
    const [seg] = await listSealedSegments(process.argv[1]);
    const built = await buildArchive(await planArchive(process.argv[1], seg), process.argv[2]);
    console.log(JSON.stringify({ size: built.size, maxRssKiB: process.resourceUsage().maxRSS }));`;
  const out = await tempDir('big-');
  const { stdout } = await execFileP(process.execPath, ['--input-type=module', '-e', script, t.ws, out]);
  const r = JSON.parse(stdout);
  assert.ok(r.size > 0);
  assert.ok(r.maxRssKiB < 200 * 1024, `packaging 300 MiB used ${r.maxRssKiB} KiB of memory`);
  const dir = await untar(path.join(out, (await fsp.readdir(out))[0]));
  const md5 = (await execFileP('md5sum', [path.join(t.logdir, 'uploads', name)])).stdout.split(' ')[0];
  assert.equal((await execFileP('md5sum', [path.join(dir, '.dvc/cache/files/md5', md5.slice(0, 2), md5.slice(2))])).stdout.split(' ')[0], md5);
});

test('progress: a percentage line on a terminal for large archives, nothing otherwise', async () => {
  const { progressLine } = await import('../src/push/progress.js');
  const written: string[] = [];
  const tty = { isTTY: true, write: (s: string) => written.push(s) > 0 };
  const bar = progressLine('packaging x.tar.gz', tty);
  bar.update(0, 64 << 20);
  bar.update(64 << 20, 64 << 20);
  bar.end();
  assert.deepEqual(written, ['\rpackaging x.tar.gz 0%', '\rpackaging x.tar.gz 100%', '\n']);
  const quiet: string[] = [];
  const small = progressLine('y', { isTTY: true, write: (s: string) => quiet.push(s) > 0 });
  small.update(1, 1000);
  small.end();
  const pipe = progressLine('z', { isTTY: false, write: (s: string) => quiet.push(s) > 0 });
  pipe.update(1 << 30, 1 << 30);
  pipe.end();
  assert.deepEqual(quiet, []);
});

test('after `git gc` packed the workspace\'s objects, the archive still carries complete loose objects', async () => {
  const t = await recordFixture('pywaggle-binary');
  const seg = await sealForTest(t.ws);
  await execFileP('git', ['gc', '-q', '--prune=now'], { cwd: t.ws });
  const loose = (await execFileP('find', ['.git/objects', '-type', 'f', '-path', '*/objects/??/*'], { cwd: t.ws })).stdout.trim();
  assert.equal(loose, '', 'everything is packed now');
  const built = await buildArchive(await onePlan(t.ws), await tempDir('gc-'));
  await checkUnpacked(await untar(built.file), seg, t.ws);
});

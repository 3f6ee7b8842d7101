import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, readdirSync } from 'node:fs';
import path from 'node:path';
import { createDurableFs, WorkspaceRepo } from '../src/git/index.js';
import { encodeLoose, objectId, wrapObject } from '../src/git/objects.js';
import { silentLogger } from '../src/log.js';
import { fsck, gitSync, tempDir, writePointer } from './git-helpers.js';

/** DurableFs.writeObjects: per-file fsync for small batches, one syncfs for large ones, per-file again without `sync -f`. */

function blobs(n: number, tag: string): { oid: string; deflated: Buffer }[] {
  return Array.from({ length: n }, (_, i) => {
    const raw = wrapObject('blob', Buffer.from(`${tag} ${i}\n`));
    return { oid: objectId(raw), deflated: encodeLoose(raw) };
  });
}

async function bareRepo(tag: string): Promise<string> {
  const dir = await tempDir(tag);
  assert.equal(gitSync(dir, 'init', '-q').code, 0);
  return dir;
}

function assertReadable(dir: string, objs: { oid: string }[], tag: string): void {
  for (const [i, o] of objs.entries()) {
    if (i % 17 !== 0 && i !== objs.length - 1) continue;
    assert.equal(gitSync(dir, 'cat-file', '-p', o.oid).stdout, `${tag} ${i}\n`);
  }
  const f = fsck(dir);
  assert.equal(f.code, 0, f.stderr);
  // No temp file is left behind.
  for (const sub of readdirSync(path.join(dir, '.git', 'objects'))) {
    if (!/^[0-9a-f]{2}$/.test(sub)) continue;
    assert.deepEqual(readdirSync(path.join(dir, '.git', 'objects', sub)).filter((n) => n.startsWith('tmp_obj_')), []);
  }
}

function withPath<T>(value: string, fn: () => Promise<T>): Promise<T> {
  const old = process.env.PATH;
  process.env.PATH = value;
  return fn().finally(() => {
    process.env.PATH = old;
  });
}

test('a large batch is made durable with one syncfs, a small one with an fsync per file', async () => {
  const dir = await bareRepo('durable1');
  const objectsDir = path.join(dir, '.git', 'objects');
  const d = createDurableFs({ fsync: true });
  const big = blobs(300, 'big');
  await d.writeObjects(objectsDir, big);
  assert.equal(d.counters.writes, 300);
  if (d.counters.fsSyncs === 1) assert.equal(d.counters.fileSyncs, 0);
  else assert.equal(d.counters.fileSyncs, 300, 'no usable `sync -f` here: per-file fsync');
  const small = blobs(10, 'small');
  await d.writeObjects(objectsDir, small);
  assert.equal(d.counters.writes, 310);
  assert.ok(d.counters.fileSyncs >= 10);
  await d.barrier();
  assertReadable(dir, big, 'big');
  assertReadable(dir, small, 'small');
});

test('without `sync -f` (or with batchSync off) every file is fsynced, and the result is the same', async () => {
  const dir = await bareRepo('durable2');
  const objectsDir = path.join(dir, '.git', 'objects');
  const off = createDurableFs({ fsync: true, batchSync: false });
  const a = blobs(100, 'a');
  await off.writeObjects(objectsDir, a);
  assert.deepEqual({ ...off.counters }, { writes: 100, fileSyncs: 100, dirSyncs: 0, fsSyncs: 0 });
  await off.barrier();
  assert.ok(off.counters.dirSyncs > 0);

  // Large enough for the batched path, which then finds no `sync` to run.
  const missing = createDurableFs({ fsync: true });
  const b = blobs(200, 'b');
  await withPath('/nonexistent', () => missing.writeObjects(objectsDir, b));
  assert.equal(missing.counters.fsSyncs, 0);
  assert.equal(missing.counters.fileSyncs, 200);
  assertReadable(dir, a, 'a');
  assertReadable(dir, b, 'b');

  // The same through WorkspaceRepo: a 200-pointer commit without `sync` on the PATH.
  const ws = await tempDir('durable3');
  const repo = new WorkspaceRepo(ws, { logger: silentLogger() });
  await repo.init({ branch: 'mlmd' });
  const paths = Array.from({ length: 200 }, (_, i) => `p/${i}.dvc`);
  for (const p of paths) await writePointer(ws, p);
  await withPath('/nonexistent', () => repo.commit(paths, 'no sync binary'));
  assert.equal(repo.ioCounters.fsSyncs, 0);
  assert.ok(repo.ioCounters.fileSyncs >= 200);
  assert.equal(gitSync(ws, 'ls-files').stdout.trim().split('\n').length, 200);
  assert.equal(gitSync(ws, 'status', '--porcelain').stdout, '');
  assert.equal(fsck(ws).code, 0);
});

test('objects already on disk are not written again', async () => {
  const ws = await tempDir('durable5');
  const repo = new WorkspaceRepo(ws, { logger: silentLogger(), fsync: false });
  await repo.init({ branch: 'mlmd' });
  const first = Array.from({ length: 100 }, (_, i) => `a/${i}.dvc`);
  for (const p of first) await writePointer(ws, p, `same ${p}`);
  await repo.commit(first, 'first');
  const before = repo.ioCounters.writes;
  // Same contents under other names: b/ has exactly a/'s tree, so only the
  // root tree and the commit are new objects (plus the index and the ref).
  const copies = first.map((p) => p.replace(/^a\//, 'b/'));
  for (const [i, p] of copies.entries()) await writePointer(ws, p, `same ${first[i]}`);
  await repo.commit(copies, 'copies');
  assert.equal(repo.ioCounters.writes - before, 2 + 2, 'root tree, commit, index, ref');
  assert.equal(fsck(ws).code, 0);
});

test('a failed batch leaves no temp file (per-file and batched paths)', async () => {
  for (const fsync of [false, true]) {
    const dir = await bareRepo('durable4');
    const objectsDir = path.join(dir, '.git', 'objects');
    const d = createDurableFs({ fsync });
    await d.writeObjects(objectsDir, blobs(80, 'x'));
    // A batch whose last object cannot be written (its folder is a file): the error surfaces, nothing is stranded.
    const bad = blobs(150, 'y');
    const victim = bad[bad.length - 1]!;
    const sub = path.join(objectsDir, victim.oid.slice(0, 2));
    await fsp.rm(sub, { recursive: true, force: true });
    await fsp.writeFile(sub, 'not a folder');
    await assert.rejects(d.writeObjects(objectsDir, bad), { code: 'ENOTDIR' });
    await fsp.rm(sub);
    for (const s of readdirSync(objectsDir)) {
      if (/^[0-9a-f]{2}$/.test(s)) assert.deepEqual(readdirSync(path.join(objectsDir, s)).filter((n) => n.startsWith('tmp_obj_')), [], `fsync=${fsync}`);
    }
  }
});

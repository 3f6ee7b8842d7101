import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { WorkspaceRepo } from '../src/git/index.js';
import { silentLogger } from '../src/log.js';
import { fsck, gitSync, tempDir, writePointer } from './git-helpers.js';

/** A repo on branch mlmd with commits A (init), B, C; returns their shas. */
async function setup(tag: string) {
  const dir = await tempDir(tag);
  const repo = new WorkspaceRepo(dir, { logger: silentLogger() });
  await repo.init({ branch: 'mlmd' });
  const a = await repo.head();
  await writePointer(dir, 'data/b.dvc');
  const b = await repo.commit(['data/b.dvc'], 'B');
  await writePointer(dir, 'data/c.dvc');
  const c = await repo.commit(['data/c.dvc'], 'C');
  return { dir, repo, a, b, c, ref: path.join(dir, '.git', 'refs', 'heads', 'mlmd') };
}

/** After repair: fsck clean, and the next commit's parent is `parent`. */
async function assertRecovered(dir: string, parent: string, tag: string) {
  const f = fsck(dir);
  assert.equal(f.code, 0, f.stderr);
  const repo = new WorkspaceRepo(dir, { logger: silentLogger() });
  await repo.init({ branch: 'mlmd' });
  assert.deepEqual(await repo.check(), { ok: true });
  await writePointer(dir, `after/${tag}.dvc`);
  const next = await repo.commit([`after/${tag}.dvc`], 'next');
  assert.equal(gitSync(dir, 'rev-parse', `${next}^`).stdout.trim(), parent);
  assert.equal(gitSync(dir, 'rev-parse', '--abbrev-ref', 'HEAD').stdout.trim(), 'mlmd');
  assert.equal(fsck(dir).code, 0);
}

test('B16 case 1: empty branch ref', async () => {
  const { dir, repo, b, c, ref } = await setup('b16a');
  await fsp.writeFile(ref, '');
  const r = await repo.check();
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.file, ref);
  await assert.rejects(repo.commit(['data/b.dvc'], 'x'), { name: 'UserError' });
  // The recorder's newest known commit is C; pretend it only knows B.
  assert.equal(await repo.repair([b]), b);
  await assertRecovered(dir, b, 'a');
  void c;
});

test('B16 case 1 without candidates: the newest complete loose commit is used', async () => {
  const { dir, repo, c, ref } = await setup('b16a2');
  await fsp.writeFile(ref, '');
  assert.equal(await repo.repair([]), c);
  await assertRecovered(dir, c, 'a2');
});

test('B16 case 2: ref points at a missing object', async () => {
  const { dir, repo, b, c, ref } = await setup('b16b');
  const missing = 'deadbeef'.repeat(5);
  await fsp.writeFile(ref, `${missing}\n`);
  const r = await repo.check();
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.problem.includes(missing) && r.file === ref);
  // Candidates newest first: an unusable one is skipped.
  assert.equal(await repo.repair([missing, 'not-a-sha', c, b]), c);
  await assertRecovered(dir, c, 'b');
});

test('B16 case 2b: the commit object of the ref is deleted; candidates are checked deeply', async () => {
  const { dir, repo, b, c, ref } = await setup('b16b2');
  // Remove C's commit object: the ref and the first candidate are both unusable.
  const obj = path.join(dir, '.git', 'objects', c.slice(0, 2), c.slice(2));
  await fsp.rm(obj);
  assert.equal((await repo.check()).ok, false);
  assert.equal(await repo.repair([c, b]), b);
  assert.equal((await fsp.readFile(ref, 'utf8')).trim(), b);
  await assertRecovered(dir, b, 'b2');
});

test('B16 case 3: empty HEAD', async () => {
  const { dir, repo, c } = await setup('b16c');
  const headFile = path.join(dir, '.git', 'HEAD');
  await fsp.writeFile(headFile, '');
  const r = await repo.check();
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.file, headFile);
  // No TypeError from isomorphic-git (#2287): a one-line UserError instead.
  await assert.rejects(repo.head(), { name: 'UserError' });
  await assert.rejects(repo.commit(['data/b.dvc'], 'x'), { name: 'UserError' });
  // init() on the broken repo does not throw either.
  await new WorkspaceRepo(dir, { logger: silentLogger() }).init({ branch: 'mlmd' });
  assert.equal(await repo.repair([]), c);
  assert.equal(await fsp.readFile(headFile, 'utf8'), 'ref: refs/heads/mlmd\n');
  await assertRecovered(dir, c, 'c');
});

test('corrupt index is rebuilt from HEAD', async () => {
  const { dir, repo, c } = await setup('b16d');
  const index = path.join(dir, '.git', 'index');
  const buf = await fsp.readFile(index);
  buf[buf.length - 30] = buf[buf.length - 30]! ^ 0xff;
  await fsp.writeFile(index, buf);
  const r = await repo.check();
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.file, index);
  assert.equal(await repo.repair([]), c);
  assert.equal(gitSync(dir, 'status', '--porcelain').stdout, '');
  assert.deepEqual(gitSync(dir, 'ls-files').stdout.trim().split('\n'), ['data/b.dvc', 'data/c.dvc']);
  await assertRecovered(dir, c, 'd');
});

test('nothing usable: repair returns undefined and changes nothing', async () => {
  const { dir, repo, ref } = await setup('b16e');
  await fsp.writeFile(ref, '');
  // Remove every loose commit object.
  const objdir = path.join(dir, '.git', 'objects');
  for (const sub of await fsp.readdir(objdir)) {
    if (!/^[0-9a-f]{2}$/.test(sub)) continue;
    for (const name of await fsp.readdir(path.join(objdir, sub))) {
      const oid = sub + name;
      if (gitSync(dir, 'cat-file', '-t', oid).stdout.trim() === 'commit') await fsp.rm(path.join(objdir, sub, name));
    }
  }
  assert.equal(await repo.repair(['0123456789abcdef0123456789abcdef01234567']), undefined);
  assert.equal(await fsp.readFile(ref, 'utf8'), '');
});

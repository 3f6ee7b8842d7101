import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkspaceRepo } from '../src/git/index.js';
import { IndexLock } from '../src/git/index-lock.js';
import { silentLogger } from '../src/log.js';
import { fsck, gitAsync, gitSync, tempDir, writePointer } from './git-helpers.js';

test('20 overlapping commits while the git CLI runs status in a loop (B15)', async () => {
  const dir = await tempDir('conc');
  const repo = new WorkspaceRepo(dir, { logger: silentLogger() });
  await repo.init({ branch: 'mlmd' });

  let stop = false;
  let statusRuns = 0;
  const statusLoop = (async () => {
    while (!stop) {
      const r = await gitAsync(dir, 'status', '--porcelain');
      assert.equal(r.code, 0, r.stderr);
      statusRuns++;
    }
  })();

  const all: string[] = [];
  const jobs = Array.from({ length: 20 }, async (_, j) => {
    const paths = Array.from({ length: 5 }, (_, k) => `results/run${j}/m${k}.dvc`);
    all.push(...paths);
    for (const p of paths) await writePointer(dir, p);
    return repo.commit(paths, `commiting ${j}`);
  });
  const shas = await Promise.all(jobs);
  stop = true;
  await statusLoop;

  assert.ok(statusRuns > 0);
  assert.equal(new Set(shas).size, 20, 'each call made its own commit');
  const f = fsck(dir);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(gitSync(dir, 'status', '--porcelain').stdout, '');
  const inHead = new Set(gitSync(dir, 'ls-tree', '-r', '--name-only', 'HEAD').stdout.trim().split('\n'));
  for (const p of all) assert.ok(inHead.has(p), p);
  assert.equal(gitSync(dir, 'ls-files').stdout.trim().split('\n').length, 100);
  assert.equal(gitSync(dir, 'rev-list', '--count', 'HEAD').stdout.trim(), '21');
  assert.equal((await repo.check()).ok, true);
});

test('a git CLI writer fails fast while the index lock is held; stale locks are handled', async () => {
  const dir = await tempDir('conc2');
  const repo = new WorkspaceRepo(dir, { logger: silentLogger(), lockTimeoutMs: 300 });
  await repo.init({ branch: 'mlmd' });
  await writePointer(dir, 'a.dvc');

  // While we hold it, the CLI refuses to write the index.
  const lock = new IndexLock(path.join(dir, '.git'), silentLogger());
  const release = await lock.acquire();
  const r = gitSync(dir, 'add', 'a.dvc');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /index\.lock/);
  // And we wait, then give up with a one-line UserError naming the file.
  await assert.rejects(repo.commit(['a.dvc'], 'c'), (e: Error) => e.name === 'UserError' && /index\.lock/.test(e.message));
  await release();
  await repo.commit(['a.dvc'], 'c');
  assert.equal(gitSync(dir, 'add', 'a.dvc').code, 0);

  // A lock left by a killed cmf-sage process (dead pid) is removed at once.
  await fsp.writeFile(path.join(dir, '.git', 'index.lock'), `cmf-sage-index-lock pid=999999999 host=${os.hostname()}\n`);
  await writePointer(dir, 'b.dvc');
  await repo.commit(['b.dvc'], 'c2');
  assert.deepEqual((await repo.listFiles()).sort(), ['a.dvc', 'b.dvc']);

  // A foreign lock older than staleLockMs is removed when a repo is opened.
  await fsp.writeFile(path.join(dir, '.git', 'index.lock'), '');
  const old = new Date(Date.now() - 60_000);
  await fsp.utimes(path.join(dir, '.git', 'index.lock'), old, old);
  const reopened = new WorkspaceRepo(dir, { logger: silentLogger(), staleLockMs: 30_000 });
  await reopened.init({ branch: 'mlmd' });
  await assert.rejects(fsp.access(path.join(dir, '.git', 'index.lock')));
  assert.equal(fsck(dir).code, 0);
});

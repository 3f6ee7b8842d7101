import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureIgnoredDataDir, gitignoreEscape } from '../src/dvc/index.js';

const run = promisify(execFile);

async function gitRepo(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dvc-ignore-'));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  await run('git', ['init', '-q', dir]);
  return dir;
}

/** git's own verdict: exit 0 = ignored, 1 = not ignored. */
async function ignored(repo: string, rel: string): Promise<boolean> {
  try {
    await run('git', ['-C', repo, 'check-ignore', '-q', '--', rel]);
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === 1) return false;
    throw err;
  }
}

test('gitignoreEscape escapes [ ] ! * # ? like DVC', () => {
  assert.equal(gitignoreEscape('plain name.jpg'), 'plain name.jpg');
  assert.equal(gitignoreEscape('#a[1]!*?.txt'), '\\#a\\[1\\]\\!\\*\\?.txt');
});

test('an escaped /name line ignores exactly that file (git check-ignore)', async (t) => {
  const repo = await gitRepo(t);
  const name = '#we!rd [1]*?.txt';
  await fsp.writeFile(path.join(repo, '.gitignore'), `/${gitignoreEscape(name)}\n`);
  await fsp.writeFile(path.join(repo, name), 'x');
  await fsp.writeFile(path.join(repo, 'we!rd 1.txt'), 'x');
  assert.equal(await ignored(repo, name), true);
  assert.equal(await ignored(repo, 'we!rd 1.txt'), false);
  assert.equal(await ignored(repo, '#we!rd [1]xx.txt'), false);
});

test('ensureIgnoredDataDir ignores data files (also in subdirectories) but not .dvc pointers or .gitignore', async (t) => {
  const repo = await gitRepo(t);
  const results = path.join(repo, 'results');
  await fsp.mkdir(path.join(results, 'sub', 'deeper'), { recursive: true });
  await ensureIgnoredDataDir(results);
  const files = ['frame 1.jpg', 'frame 1.jpg.dvc', '#odd [1].bin', '#odd [1].bin.dvc', 'sub/b.npy', 'sub/b.npy.dvc', 'sub/deeper/c', 'sub/deeper/c.dvc'];
  for (const f of files) await fsp.writeFile(path.join(results, f), 'x');
  for (const f of files) assert.equal(await ignored(repo, `results/${f}`), !f.endsWith('.dvc'), f);
  assert.equal(await ignored(repo, 'results/.gitignore'), false);
  assert.equal(await ignored(repo, 'outside.jpg'), false, 'nothing outside the data dir is ignored');
  const { stdout } = await run('git', ['-C', repo, 'status', '--porcelain', '--untracked-files=all']);
  assert.deepEqual(
    stdout.split('\n').filter(Boolean).sort(),
    ['?? "results/#odd [1].bin.dvc"', '?? "results/frame 1.jpg.dvc"', '?? results/.gitignore', '?? results/sub/b.npy.dvc', '?? results/sub/deeper/c.dvc'].sort(),
  );
});

test('ensureIgnoredDataDir is idempotent and appends after existing lines', async (t) => {
  const repo = await gitRepo(t);
  const dir = path.join(repo, 'data');
  await fsp.mkdir(dir);
  await fsp.writeFile(path.join(dir, '.gitignore'), '/old.jpg'); // DVC-style line, no trailing newline
  await ensureIgnoredDataDir(dir);
  const text = await fsp.readFile(path.join(dir, '.gitignore'), 'utf8');
  assert.match(text, /^\/old\.jpg\n# .*\n\*\n!\*\/\n!\*\.dvc\n!\.gitignore\n$/);
  const st = await fsp.stat(path.join(dir, '.gitignore'), { bigint: true });
  await ensureIgnoredDataDir(dir);
  const st2 = await fsp.stat(path.join(dir, '.gitignore'), { bigint: true });
  assert.equal(st2.ino, st.ino);
  assert.equal(st2.mtimeNs, st.mtimeNs);
  await fsp.writeFile(path.join(dir, 'new.png'), 'x');
  assert.equal(await ignored(repo, 'data/new.png'), true);
});

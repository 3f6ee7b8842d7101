import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import fs from 'node:fs';
import git0 from 'isomorphic-git';
import { WorkspaceRepo } from '../src/git/index.js';
import { silentLogger } from '../src/log.js';
import { fsck, gitSync, tempDir, writePointer } from './git-helpers.js';

/**
 * The commit fast path (commit-paths.ts) against the git CLI as judge: the
 * objects it writes are git's, its trees are `git write-tree` of its index,
 * and its index stat data matches the files so git sees them unmodified.
 */

function git(dir: string, ...args: string[]): string {
  const r = gitSync(dir, ...args);
  assert.equal(r.code, 0, `git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function loose(dir: string, oid: string): Buffer {
  return readFileSync(path.join(dir, '.git', 'objects', oid.slice(0, 2), oid.slice(2)));
}

/** HEAD's tree is exactly what git builds from our index; nothing is modified or untracked. */
function assertConsistent(dir: string): void {
  assert.equal(git(dir, 'write-tree').trim(), git(dir, 'rev-parse', 'HEAD^{tree}').trim(), 'HEAD tree = git write-tree of the index');
  assert.equal(git(dir, 'status', '--porcelain'), '');
  // diff-files does not refresh the index: any entry whose stat data does not
  // match its file (and that is not racily clean) is listed.
  assert.equal(git(dir, 'diff-files', '--name-status'), '');
  assert.equal(git(dir, 'diff-index', '--cached', '--name-status', 'HEAD'), '');
  const f = fsck(dir);
  assert.equal(f.code, 0, f.stdout + f.stderr);
}

/** The commit isomorphic-git's git.commit (what commit() used before) would write for the same tree, parent, author and time. */
async function isoCommitId(dir: string, sha: string, message: string): Promise<string> {
  const [tree, parent, name, email, time] = git(dir, 'log', '-1', '--format=%T%n%P%n%an%n%ae%n%at', sha).trim().split('\n') as [string, string, string, string, string];
  const who = { name, email, timestamp: Number(time) };
  return git0.commit({ fs, dir, message, author: who, committer: who, tree, parent: [parent], dryRun: true });
}

/** Set every file's mtime an hour back, so no index entry is "racily clean" and git must trust the stat data. */
async function ageFiles(dir: string, rels: string[]): Promise<void> {
  const t = new Date(Date.now() - 3_600_000);
  for (const r of rels) await fsp.utimes(path.join(dir, r), t, t);
}

// Names chosen for git's orderings: a file vs a folder with the same stem
// (`a-b`, `a.b`, `a0`, `a/`), non-ASCII (including one outside the BMP), spaces.
const TRICKY = [
  'a-b.dvc',
  'a.b.dvc',
  'a0.dvc',
  'a/b.dvc',
  'a/b/c.dvc',
  'a/b-c/d.dvc',
  'a/b.c/e.dvc',
  'ab/x.dvc',
  'z/\u00e9t\u00e9.dvc',
  'z/\uff21wide.dvc',
  'z/\u{1f600}emoji.dvc',
  'z/with space.dvc',
  'results/2024-05-01/1714521600000000000-frame.jpg.dvc',
];

test('blobs are byte-identical objects to git hash-object -w; trees equal git write-tree; stat data matches', async () => {
  const dir = await tempDir('objects');
  const repo = new WorkspaceRepo(dir, { logger: silentLogger() });
  await repo.init({ branch: 'mlmd' });
  const files = [...TRICKY];
  for (const p of files) await writePointer(dir, p);
  // Edge contents: empty, binary with NULs and CRLF, large (several zlib blocks), executable, a symlink.
  await fsp.writeFile(path.join(dir, 'empty.dvc'), '');
  await fsp.writeFile(path.join(dir, 'bin.dat'), Buffer.from([0, 1, 2, 0, 13, 10, 255, 0, 13, 10]));
  await fsp.writeFile(path.join(dir, 'big.txt'), 'line of text\n'.repeat(50_000));
  await fsp.writeFile(path.join(dir, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  await fsp.symlink('a/b.dvc', path.join(dir, 'link.dvc'));
  files.push('empty.dvc', 'bin.dat', 'big.txt', 'run.sh', 'link.dvc');
  await ageFiles(dir, files.filter((f) => f !== 'link.dvc'));

  const sha = await repo.commit(files, 'tricky');
  assert.equal(git(dir, 'rev-parse', 'HEAD').trim(), sha);
  assertConsistent(dir);

  // The same files hashed by git into separate repositories: git's default
  // (zlib level 1 for loose objects) and level 0, which is how cmf-sage
  // stores objects up to 4 KiB (see src/git/objects.ts).
  const judge = await tempDir('objects-judge');
  git(judge, 'init', '-q');
  const judge0 = await tempDir('objects-judge0');
  git(judge0, 'init', '-q');
  git(judge0, 'config', 'core.looseCompression', '0');
  const staged = git(dir, 'ls-files', '-s', '-z').split('\0').filter(Boolean);
  assert.equal(staged.length, files.length);
  for (const line of staged) {
    const [meta, name] = line.split('\t') as [string, string];
    const [mode, oid] = meta.split(' ') as [string, string];
    const file = path.join(dir, name);
    let source = file;
    if (mode === '120000') {
      // git hashes a symlink's target.
      source = path.join(judge, 'target');
      await fsp.writeFile(source, await fsp.readlink(file));
    }
    const expected = git(judge, 'hash-object', '-w', source).trim();
    assert.equal(git(judge0, 'hash-object', '-w', source).trim(), expected);
    assert.equal(oid, expected, `blob id of ${name}`);
    assert.equal(mode, name === 'run.sh' ? '100755' : name === 'link.dvc' ? '120000' : '100644', `mode of ${name}`);
    // The object (header + content) is identical to git's.
    const ours = loose(dir, oid);
    assert.ok(inflateSync(ours).equals(inflateSync(loose(judge, oid))), `object bytes of ${name}`);
    // And so is the loose file itself, for what is stored without compression.
    if (name !== 'big.txt') assert.ok(ours.equals(loose(judge0, oid)), `loose file of ${name} = git -c core.looseCompression=0 hash-object -w`);
    assert.equal(git(dir, 'cat-file', '-t', oid).trim(), 'blob');
  }
  // The commit object is exactly the one isomorphic-git's git.commit wrote before.
  assert.equal(git(dir, 'cat-file', '-t', sha).trim(), 'commit');
  assert.equal(git(dir, 'log', '-1', '--format=%an <%ae>').trim(), 'cmf-sage <cmf-sage@localhost>');
  assert.equal(await isoCommitId(dir, sha, 'tricky'), sha);

  // Edit one, delete one, change a mode, turn a file into a folder: still git's trees.
  await writePointer(dir, 'a/b/c.dvc', 'edited');
  await fsp.rm(path.join(dir, 'a0.dvc'));
  await fsp.chmod(path.join(dir, 'run.sh'), 0o644);
  await fsp.rm(path.join(dir, 'a.b.dvc'));
  await writePointer(dir, 'a.b.dvc/inner.dvc');
  await ageFiles(dir, ['a/b/c.dvc', 'run.sh', 'a.b.dvc/inner.dvc']);
  const message = '\n\r\n commiting 2,Second\r\nline 2 \u00e9\n\n\n';
  const second = await repo.commit(['a/b/c.dvc', 'a0.dvc', 'run.sh', 'a.b.dvc'], message);
  assert.notEqual(second, sha);
  assert.equal(await isoCommitId(dir, second, message), second);
  assert.equal(git(dir, 'log', '-1', '--format=%B'), ' commiting 2,Second\nline 2 \u00e9\n\n');
  assertConsistent(dir);
  assert.equal(git(dir, 'ls-files', '-s', 'run.sh').split(' ')[0], '100644');
  assert.deepEqual(git(dir, 'ls-files', 'a.b.dvc').trim().split('\n'), ['a.b.dvc/inner.dvc']);
  assert.equal(git(dir, 'diff', '--name-status', `${sha}`, `${second}`).trim().split('\n').length, 5);

  // Naming a folder stages what is below it, including what vanished.
  await fsp.rm(path.join(dir, 'z', 'with space.dvc'));
  await writePointer(dir, 'z/new.dvc');
  await ageFiles(dir, ['z/new.dvc']);
  await repo.commit(['z'], 'folder');
  assertConsistent(dir);
  assert.deepEqual(git(dir, 'ls-files', '-z', 'z').split('\0').filter(Boolean).sort(), ['z/new.dvc', 'z/\u00e9t\u00e9.dvc', 'z/\uff21wide.dvc', 'z/\u{1f600}emoji.dvc'].sort());
});

test('git CLI changes to the index and refs between commits are picked up', async () => {
  const dir = await tempDir('objects-cli');
  const repo = new WorkspaceRepo(dir, { logger: silentLogger() });
  await repo.init({ branch: 'mlmd' });
  for (const p of ['r/a.dvc', 'r/b.dvc']) await writePointer(dir, p);
  const first = await repo.commit(['r/a.dvc', 'r/b.dvc'], 'first');

  // The CLI stages another file: the next commit carries it (the tree is the whole index).
  await writePointer(dir, 'cli.dvc');
  git(dir, 'add', 'cli.dvc');
  await writePointer(dir, 'r/c.dvc');
  const second = await repo.commit(['r/c.dvc'], 'second');
  assert.deepEqual(git(dir, 'ls-tree', '-r', '--name-only', second).trim().split('\n'), ['cli.dvc', 'r/a.dvc', 'r/b.dvc', 'r/c.dvc']);
  assertConsistent(dir);

  // The CLI rewrites the index as version 4; we read it and write version 2.
  git(dir, 'update-index', '--index-version', '4');
  assert.equal(readFileSync(path.join(dir, '.git', 'index')).readUInt32BE(4), 4);
  await writePointer(dir, 'r/d.dvc');
  await repo.commit(['r/d.dvc'], 'v4');
  assert.equal(readFileSync(path.join(dir, '.git', 'index')).readUInt32BE(4), 2);
  assertConsistent(dir);

  // A kill between the index write and the ref write leaves the index ahead of
  // HEAD: the same paths committed again make a commit with that index's tree.
  const ahead = git(dir, 'rev-parse', 'HEAD^{tree}').trim();
  git(dir, 'update-ref', 'refs/heads/mlmd', second);
  const again = await repo.commit(['r/d.dvc'], 'again');
  assert.notEqual(again, second);
  assert.equal(git(dir, 'rev-parse', `${again}^`).trim(), second);
  assert.equal(git(dir, 'rev-parse', `${again}^{tree}`).trim(), ahead);
  assertConsistent(dir);

  // After git gc everything is packed: a fresh process reads HEAD's commit and trees from the pack.
  git(dir, 'gc', '-q', '--prune=now');
  assert.equal(git(dir, 'count-objects').trim().split(' ')[0], '0');
  const reopened = new WorkspaceRepo(dir, { logger: silentLogger() });
  await reopened.init({ branch: 'mlmd' });
  assert.equal(await reopened.commit(['r/a.dvc', 'r/b.dvc'], 'nothing new'), again);
  await writePointer(dir, 'r/b.dvc', 'changed');
  const last = await reopened.commit(['r/a.dvc', 'r/b.dvc'], 'changed');
  assert.notEqual(last, again);
  assertConsistent(dir);
  // initial, first, second, again (the "v4" commit left history with the ref reset), changed
  assert.equal(git(dir, 'rev-list', '--count', 'HEAD').trim(), '5');
  void first;
});

test('a large commit onto a large folder: git agrees with every tree and entry', async () => {
  const dir = await tempDir('objects-big');
  const repo = new WorkspaceRepo(dir, { logger: silentLogger(), fsync: false });
  await repo.init({ branch: 'mlmd' });
  const ns = (i: number) => `1714521600${String(i).padStart(9, '0')}`;
  const batch1 = Array.from({ length: 1500 }, (_, i) => `results/2024-05-01/${ns(i * 7)}-frame.jpg.dvc`);
  const batch2 = Array.from({ length: 1500 }, (_, i) => (i % 2 ? `results/2024-05-01/${ns(i * 7 + 3)}-x.dvc` : `results/2024-05-02/r${i}.dvc`));
  for (const p of batch1) await writePointer(dir, p);
  await ageFiles(dir, batch1);
  await repo.commit(batch1, 'one');
  assertConsistent(dir);
  for (const p of batch2) await writePointer(dir, p);
  await ageFiles(dir, batch2);
  await repo.commit(batch2, 'two');
  assertConsistent(dir);
  assert.equal(git(dir, 'ls-files').trim().split('\n').length, 3000);
});

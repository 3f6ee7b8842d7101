import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { WorkspaceRepo } from '../src/git/index.js';
import { silentLogger } from '../src/log.js';
import { fsck, gitSync, tempDir, writePointer } from './git-helpers.js';

/**
 * Commit cost, printed as TAP comments. Runs only with CMF_SAGE_GIT_BENCH=1
 * (it takes a minute): `CMF_SAGE_GIT_BENCH=1 node --test dist/test/git-bench.test.js`.
 */
const enabled = process.env.CMF_SAGE_GIT_BENCH === '1';

async function repoWithTracked(n: number, fsync: boolean): Promise<{ dir: string; repo: WorkspaceRepo }> {
  const dir = await tempDir(`bench${n}`);
  const repo = new WorkspaceRepo(dir, { logger: silentLogger(), fsync });
  await repo.init({ branch: 'mlmd' });
  if (n > 0) {
    // Seed with the git CLI: much faster than isomorphic-git for a one-off bulk add.
    for (let i = 0; i < n; i++) await writePointer(dir, `seed/d${i % 100}/f${i}.dvc`);
    assert.equal(gitSync(dir, 'add', 'seed').code, 0);
    assert.equal(gitSync(dir, '-c', 'gc.auto=0', 'commit', '-q', '-m', 'seed').code, 0);
  }
  return { dir, repo };
}

async function timeCommits(dir: string, repo: WorkspaceRepo, rounds: number, perCommit: number, tag: string): Promise<number> {
  let total = 0;
  for (let r = 0; r < rounds; r++) {
    const paths = Array.from({ length: perCommit }, (_, k) => `new/${tag}/r${r}/p${k}.dvc`);
    for (const p of paths) await writePointer(dir, p);
    const t0 = performance.now();
    await repo.commit(paths, `bench ${r}`);
    total += performance.now() - t0;
  }
  return total / rounds;
}

test('commit cost', { skip: !enabled, timeout: 900_000 }, async () => {
  const lines: string[] = [];
  for (const fsync of [true, false]) {
    for (const tracked of [0, 1000, 10000]) {
      const { dir, repo } = await repoWithTracked(tracked, fsync);
      const one = await timeCommits(dir, repo, 10, 1, `a${tracked}`);
      const hundred = await timeCommits(dir, repo, 3, 100, `b${tracked}`);
      const c = repo.ioCounters;
      lines.push(
        `fsync=${fsync} tracked=${tracked}: 1 pointer ${one.toFixed(1)} ms/commit, 100 pointers ${hundred.toFixed(1)} ms/commit` +
          ` (total writes ${c.writes}, file fsyncs ${c.fileSyncs}, dir fsyncs ${c.dirSyncs})`,
      );
      assert.equal(fsck(dir).code, 0);
    }
  }
  for (const l of lines) console.log(`# ${l}`);
});

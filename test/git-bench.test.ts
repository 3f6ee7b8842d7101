import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { WorkspaceRepo } from '../src/git/index.js';
import { silentLogger } from '../src/log.js';
import { fsck, gitSync, tempDir, writePointer } from './git-helpers.js';

/**
 * Commit cost, printed as TAP comments. Runs only with CMF_SAGE_GIT_BENCH=1
 * (it takes a few minutes): `CMF_SAGE_GIT_BENCH=1 node --test dist/test/git-bench.test.js`.
 *
 * For each fsync mode, layout and number of already tracked pointers, commits
 * of 1, 100, 1,000 and 6,000 new pointers are timed: wall ms per commit, CPU
 * ms per commit (process.cpuUsage, user + system, all threads) and wall µs
 * per pointer. Layouts: `flat` is how watch lays results out (one folder per
 * day, so one big tree is rewritten by every commit); `spread` puts the
 * tracked pointers in 100 folders and each commit's in a folder of its own.
 *
 * Narrow it with CMF_SAGE_GIT_BENCH_FSYNC=1|0, CMF_SAGE_GIT_BENCH_LAYOUT=flat|spread,
 * CMF_SAGE_GIT_BENCH_TRACKED=0,1000,10000 and CMF_SAGE_GIT_BENCH_SIZES=1,100,1000,6000.
 */
const enabled = process.env.CMF_SAGE_GIT_BENCH === '1';

function list(name: string, dflt: string): string[] {
  return (process.env[name] ?? dflt).split(',').filter((s) => s !== '');
}

type Layout = 'flat' | 'spread';
const DAY = 'results/2024-05-01';

function seedPath(layout: Layout, i: number): string {
  return layout === 'flat' ? `${DAY}/s1714521600${String(i).padStart(9, '0')}-frame.jpg.dvc` : `seed/d${i % 100}/f${i}.dvc`;
}

function newPath(layout: Layout, tag: string, r: number, k: number): string {
  return layout === 'flat' ? `${DAY}/n${tag}-${r}-${k}-frame.jpg.dvc` : `new/${tag}/r${r}/p${k}.dvc`;
}

async function repoWithTracked(n: number, fsync: boolean, layout: Layout): Promise<{ dir: string; repo: WorkspaceRepo }> {
  const dir = await tempDir(`bench${n}`);
  const repo = new WorkspaceRepo(dir, { logger: silentLogger(), fsync });
  await repo.init({ branch: 'mlmd' });
  if (n > 0) {
    // Seed with the git CLI: much faster than isomorphic-git for a one-off bulk add.
    for (let i = 0; i < n; i++) await writePointer(dir, seedPath(layout, i));
    assert.equal(gitSync(dir, 'add', layout === 'flat' ? 'results' : 'seed').code, 0);
    assert.equal(gitSync(dir, '-c', 'gc.auto=0', 'commit', '-q', '-m', 'seed').code, 0);
  }
  return { dir, repo };
}

interface Timing {
  wallMs: number;
  cpuMs: number;
}

async function timeCommits(dir: string, repo: WorkspaceRepo, layout: Layout, rounds: number, perCommit: number, tag: string): Promise<Timing> {
  let wall = 0;
  let cpu = 0;
  for (let r = 0; r < rounds; r++) {
    const paths = Array.from({ length: perCommit }, (_, k) => newPath(layout, tag, r, k));
    for (const p of paths) await writePointer(dir, p);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await repo.commit(paths, `bench ${r}`);
    wall += performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpu += (c.user + c.system) / 1000;
  }
  return { wallMs: wall / rounds, cpuMs: cpu / rounds };
}

const ROUNDS: Record<number, number> = { 1: 20, 100: 5, 1000: 3 };

test('commit cost', { skip: !enabled, timeout: 3_600_000 }, async () => {
  const lines: string[] = [
    'fsync layout tracked | new/commit | wall ms/commit | cpu ms/commit | wall µs/pointer | cpu µs/pointer',
  ];
  for (const fsync of list('CMF_SAGE_GIT_BENCH_FSYNC', '1,0').map((s) => s === '1')) {
    for (const layout of list('CMF_SAGE_GIT_BENCH_LAYOUT', 'flat,spread') as Layout[]) {
      for (const tracked of list('CMF_SAGE_GIT_BENCH_TRACKED', '0,1000,10000').map(Number)) {
        const { dir, repo } = await repoWithTracked(tracked, fsync, layout);
        // Warm-up: the first commit after opening reads what is on disk.
        await timeCommits(dir, repo, layout, 1, 1, `w${tracked}`);
        for (const size of list('CMF_SAGE_GIT_BENCH_SIZES', '1,100,1000,6000').map(Number)) {
          const t = await timeCommits(dir, repo, layout, ROUNDS[size] ?? 1, size, `s${size}t${tracked}`);
          lines.push(
            `${fsync ? 1 : 0} ${layout} ${tracked} | ${size} | ${t.wallMs.toFixed(1)} | ${t.cpuMs.toFixed(1)}` +
              ` | ${((t.wallMs * 1000) / size).toFixed(0)} | ${((t.cpuMs * 1000) / size).toFixed(0)}`,
          );
          console.log(lines[lines.length - 1]);
        }
        const f = fsck(dir);
        assert.equal(f.code, 0, f.stderr);
        assert.equal(gitSync(dir, 'status', '--porcelain').stdout, '');
      }
    }
  }
  console.log('---');
  for (const l of lines) console.log(l);
});

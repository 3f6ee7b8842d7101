import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { readdirSync } from 'node:fs';
import { WorkspaceRepo } from '../src/git/index.js';
import { silentLogger } from '../src/log.js';
import { fsck, gitSync, sleep, tempDir, writePointer } from './git-helpers.js';

// Compiled beside this file (dist/test or dist-git/test).
const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'git-crash-child.js');
const KILLS = Number(process.env.CMF_SAGE_CRASH_KILLS ?? 40);

interface RunResult {
  commits: number;
  ready: boolean;
}

/** Start the child, kill -9 it `delayMs` after it is ready (or after spawn), wait for it to die. */
async function runAndKill(dir: string, seed: string, delayMs: number, fromSpawn: boolean): Promise<RunResult> {
  const nosync = seed.endsWith('1') || seed.endsWith('3') || seed.endsWith('7');
  // Every third run also commits batches of 80-300 files (the batched object writes).
  const big = Number(seed.slice(1)) % 3 === 2;
  const args = [CHILD, dir, seed, nosync ? 'nosync' : 'sync', ...(big ? ['big'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const res: RunResult = { commits: 0, ready: false };
  let stderr = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    for (const line of d.split('\n')) {
      if (line === 'ready') {
        res.ready = true;
        onReady();
      } else if (line.startsWith('c ')) res.commits++;
    }
  });
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  if (!fromSpawn) await Promise.race([ready, exited]);
  await sleep(delayMs);
  child.kill('SIGKILL');
  const code = await exited;
  assert.equal(code, null, `child ended by itself (code ${code}): ${stderr}`);
  return res;
}

test(`kill -9 at ${KILLS} random moments leaves a repo git fsck accepts`, { timeout: 600_000 }, async () => {
  const dir = await tempDir('crash');
  let commits = 0;
  let midInit = 0;
  for (let i = 0; i < KILLS; i++) {
    // The first few kills land during start-up and init, the rest in the commit loop.
    const fromSpawn = i < 4 || i % 10 === 9;
    const delay = Math.floor(Math.random() * 300);
    const r = await runAndKill(dir, `k${i}`, delay, fromSpawn);
    commits += r.commits;
    if (!r.ready) midInit++;

    if (!r.ready && gitSync(dir, 'rev-parse', '--git-dir').code !== 0) continue; // killed before .git existed
    const f = fsck(dir);
    assert.equal(f.code, 0, `kill ${i} (+${delay} ms): fsck failed:\n${f.stdout}\n${f.stderr}`);
    const head = gitSync(dir, 'rev-parse', 'HEAD');
    assert.equal(head.code, 0, `kill ${i}: rev-parse HEAD: ${head.stderr}`);
    assert.equal(gitSync(dir, 'rev-parse', '--abbrev-ref', 'HEAD').stdout.trim(), 'mlmd');
    const ls = gitSync(dir, 'ls-files');
    assert.equal(ls.code, 0, `kill ${i}: git ls-files: ${ls.stderr}`);

    // Restart in this process: open, check, commit.
    const repo = new WorkspaceRepo(dir, { logger: silentLogger() });
    await repo.init({ branch: 'mlmd' });
    assert.deepEqual(await repo.check(), { ok: true }, `kill ${i}`);
    assert.equal(await repo.head(), head.stdout.trim());
    await writePointer(dir, `restart/r${i}.dvc`);
    const sha = await repo.commit([`restart/r${i}.dvc`], `restart ${i}`);
    assert.equal(gitSync(dir, 'rev-parse', 'HEAD^').stdout.trim(), head.stdout.trim());
    assert.equal(gitSync(dir, 'rev-parse', 'HEAD').stdout.trim(), sha);
  }
  const final = fsck(dir);
  assert.equal(final.code, 0, final.stderr);
  // Every file the restarts committed is still in HEAD.
  const inHead = new Set(gitSync(dir, 'ls-tree', '-r', '--name-only', 'HEAD').stdout.trim().split('\n'));
  for (let i = 0; i < KILLS; i++) {
    if (gitSync(dir, 'log', '--format=%s', '--grep', `^restart ${i}$`).stdout.trim()) assert.ok(inHead.has(`restart/r${i}.dvc`));
  }
  // Kills inside an object write strand its temp file (git fsck ignores tmp_obj_*, git gc prunes them).
  let stranded = 0;
  const objects = path.join(dir, '.git', 'objects');
  for (const sub of readdirSync(objects)) {
    if (/^[0-9a-f]{2}$/.test(sub)) stranded += readdirSync(path.join(objects, sub)).filter((n) => n.startsWith('tmp_obj_')).length;
  }
  console.log(`crash: ${KILLS} kills (${midInit} before the child was ready), ${commits} child commits seen, ${stranded} object temp files stranded`);
});

/**
 * Child process for git-crash.test.ts: opens (or creates) the repo and then
 * writes pointer files and commits in a tight loop until it is killed.
 * Usage: node git-crash-child.js <dir> <seed> [sync|nosync] [big]
 * (nosync: no fsync, so more commits land between kills; kill -9 safety
 * rests on temp+rename alone, fsync only matters for power loss. big: every
 * other commit adds 80-300 files, so kills also land in the batched object
 * writes, with syncfs when fsync is on.)
 * Prints "ready" after init and "c <n>" after each commit.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { WorkspaceRepo } from '../src/git/index.js';
import { silentLogger } from '../src/log.js';

const [dir, seed, mode, size] = process.argv.slice(2) as [string, string, string | undefined, string | undefined];
const big = size === 'big';
const repo = new WorkspaceRepo(dir, { logger: silentLogger(), fsync: mode !== 'nosync' });
await repo.init({ branch: 'mlmd', remoteUrl: 'https://example.com/crash.git' });
process.stdout.write('ready\n');
for (let n = 0; ; n++) {
  const batch: string[] = [];
  // New files, one rewrite of an older file and, now and then, a deletion.
  const count = big && n % 2 === 1 ? 80 + ((n * 37) % 220) : 1 + (n % 4);
  for (let k = 0; k < count; k++) batch.push(`art/${seed}/s${n % 5}/f${n}-${k}.dvc`);
  const older = `art/${seed}/s${(n + 1) % 5}/shared.dvc`;
  batch.push(older);
  for (const p of batch) {
    await fsp.mkdir(path.dirname(path.join(dir, p)), { recursive: true });
    await fsp.writeFile(path.join(dir, p), `outs:\n- md5: ${seed}-${n}-${p}\n  path: x\n`);
  }
  if (n % 7 === 6) {
    const gone = `art/${seed}/s${(n - 6) % 5}/f${n - 6}-0.dvc`;
    await fsp.rm(path.join(dir, gone), { force: true });
    batch.push(gone);
  }
  await repo.commit(batch, ` commiting ${n},Crash`);
  process.stdout.write(`c ${n}\n`);
}

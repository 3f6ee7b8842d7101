import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { CLI, FIXTURES, tempDir } from './helpers.js';
import { ResultWriter, runToExit, checkInvariants } from './durability-helpers.js';

/**
 * kill -9 at each phase of the write path (hashing/copying into the cache,
 * renaming the object, writing a pointer, the journal write and fsync,
 * git objects and refs, the mlmd save, the state save, the journal rewrite,
 * closing an execution), restart, and check every invariant with git fsck and
 * Python's sqlite3. The crash points are armed with CMF_SAGE_CRASH_AT; each
 * run must really die by SIGKILL, so every phase is proven to be hit.
 */
const POINTS: string[] = [
  'cache.copy:1', 'cache.copy:3', 'cache.copy:6',
  'cache.rename:1', 'cache.rename:3',
  'write.pointer:1', 'write.pointer:3',
  'journal.torn:1', 'journal.torn:2',
  'journal.synced:1', 'journal.synced:2',
  'git.object:1', 'git.object:4', 'git.object:7',
  'git.ref:1', 'git.ref:2', 'git.ref:3',
  'checkpoint.committed:1', 'checkpoint.committed:2',
  'write.mlmd:1', 'write.mlmd:2',
  'checkpoint.saved:1', 'checkpoint.saved:2',
  'write.state:1', 'write.state:2',
  'write.journal:1', 'write.journal:2',
  'close.committed:1',
  'segment.written:1', 'segment.sealed:1',
];

test(`kill -9 at ${POINTS.length} points of the write path, then restart: nothing lost, nothing twice, nothing corrupt`, { timeout: 600_000 }, async () => {
  const root = await tempDir('crash-');
  const logdir = path.join(root, 'logdir');
  const ws = path.join(root, 'ws');
  const model = path.join(root, 'model.bin');
  await fsp.copyFile(path.join(FIXTURES, 'model', 'smoke-model-v1.bin'), model);
  const modelMd5 = createHash('md5').update(await fsp.readFile(model)).digest('hex');
  const writer = new ResultWriter(logdir);
  await writer.init();
  // small segments, so sealing happens (and is crashed) along the way
  const args = ['watch', '--once', '--pipeline', 'crash', '--model', model, '--results', logdir, '--workspace', ws, '--settle', '0', '--segment-results', '10'];
  let kills = 0;
  for (const point of POINTS) {
    // one 3 MiB result (several copy chunks); enough results to seal a segment (10) when that is the point
    const n = point.startsWith('segment') ? 5 : 3;
    for (let i = 0; i < n; i++) await writer.add(i === 0 ? 3 << 20 : 2048);
    const crashed = await runToExit(args, { CMF_SAGE_CRASH_AT: point });
    assert.equal(crashed.signal, 'SIGKILL', `crash point ${point} was reached (exit ${crashed.code}: ${crashed.stderr.slice(-400)})`);
    kills++;
    const restart = await runToExit(args);
    assert.equal(restart.code, 0, `restart after ${point}: ${restart.stderr.slice(-800)}`);
    await checkInvariants(ws, logdir, modelMd5);
  }
  assert.equal(kills, POINTS.length);
});

test('kill -9 at random moments of a continuous watch, 12 times, then catch up', { timeout: 600_000 }, async () => {
  const root = await tempDir('crash-rand-');
  const logdir = path.join(root, 'logdir');
  const ws = path.join(root, 'ws');
  const model = path.join(root, 'model.bin');
  await fsp.copyFile(path.join(FIXTURES, 'model', 'smoke-model-v1.bin'), model);
  const modelMd5 = createHash('md5').update(await fsp.readFile(model)).digest('hex');
  const writer = new ResultWriter(logdir);
  await writer.init();
  const base = ['--pipeline', 'crash', '--model', model, '--results', logdir, '--workspace', ws, '--settle', '0', '--window', '0.3'];
  // a fixed sequence of delays, so the run is repeatable
  const delays = [150, 420, 90, 700, 260, 1100, 330, 60, 510, 880, 200, 640];
  for (const delay of delays) {
    const child = spawn(process.execPath, [CLI, 'watch', ...base], { stdio: 'ignore', env: { ...process.env, CMF_SAGE_LOG_LEVEL: 'warn' } });
    const exited = new Promise((r) => child.on('exit', r));
    const stopAt = Date.now() + delay;
    while (Date.now() < stopAt) {
      await writer.add(8192);
      await new Promise((r) => setTimeout(r, 15));
    }
    child.kill('SIGKILL');
    await exited;
  }
  const finalRun = await runToExit(['watch', '--once', ...base]);
  assert.equal(finalRun.code, 0, finalRun.stderr);
  assert.ok(writer.count > 100);
  await checkInvariants(ws, logdir, modelMd5);
});

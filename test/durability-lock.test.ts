import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { execFileP, FIXTURES, copyFixture, runCli, sqlite, tempDir } from './helpers.js';
import { WatchProcess } from './watch-process.js';
import { ResultWriter, checkInvariants } from './durability-helpers.js';

async function setup() {
  const root = await tempDir('lock-');
  const logdir = path.join(root, 'logdir');
  const model = path.join(root, 'model.bin');
  await fsp.copyFile(path.join(FIXTURES, 'model', 'smoke-model-v1.bin'), model);
  const ws = path.join(root, 'ws');
  const writer = new ResultWriter(logdir);
  await writer.init();
  const args = ['--pipeline', 'p', '--model', model, '--results', logdir, '--workspace', ws, '--settle', '0'];
  const modelMd5 = createHash('md5').update(await fsp.readFile(model)).digest('hex');
  return { root, logdir, model, ws, writer, args, modelMd5 };
}

test('one writer: a second watch refuses, naming the running one; a stale lock is taken over', async () => {
  const { ws, writer, args, logdir, modelMd5 } = await setup();
  const a = new WatchProcess(args);
  try {
    await a.waitFor((l) => l.msg === 'watching');
    const second = await runCli(['watch', '--once', ...args]);
    assert.equal(second.code, 3);
    assert.match(second.stderr, new RegExp(`in use by another cmf-sage \\(pid ${a.pid}`));
    assert.equal(second.stderr.trim().split('\n').length, 1);
    // readers do not block and do not wait: status while watch runs
    await writer.add();
    await a.waitForRecorded(1);
    const t = Date.now();
    const st = await runCli(['status', '--workspace', ws, '--json']);
    assert.equal(st.code, 0, st.stderr);
    assert.ok(Date.now() - t < 5000);
    const report = JSON.parse(st.stdout);
    assert.equal(report.artifacts.Dataset, 1, 'status counts what watch acknowledged (journal + checkpoint)');
    assert.equal(report.artifacts.Metrics, 1);
  } finally {
    await a.kill9();
  }
  // the lock still names the dead process: the next writer takes it over
  const lock = JSON.parse(await fsp.readFile(path.join(ws, '.cmf-sage', 'lock'), 'utf8'));
  assert.equal(lock.pid, a.pid);
  await writer.add();
  const b = await runCli(['watch', '--once', ...args]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /taking over a stale workspace lock/);
  await checkInvariants(ws, logdir, modelMd5);
});

test('a second push refuses at once (exit 3), naming the running one, for every target; --dry-run still answers', async () => {
  const { root, ws, writer, args } = await setup();
  await writer.add();
  assert.equal((await runCli(['watch', '--once', ...args])).code, 0);
  // a live cmf-sage push holding the push lock (a process whose command line names cmf-sage, as a real one's does)
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)', 'cmf-sage', 'push'], { stdio: 'ignore' });
  try {
    await fsp.writeFile(
      path.join(ws, '.cmf-sage', 'push.lock'),
      JSON.stringify({ pid: holder.pid, host: os.hostname(), started: new Date().toISOString(), command: 'push' }) + '\n',
    );
    for (const target of [['--to', `dir:${path.join(root, 'out')}`], ['--to', 'cmf-server', '--cmf-server', 'http://127.0.0.1:9']]) {
      const t = Date.now();
      const r = await runCli(['push', '--workspace', ws, ...target]);
      assert.equal(r.code, 3, r.stderr);
      assert.ok(Date.now() - t < 10_000, 'not waited for');
      assert.equal(r.stderr.trim(), `cmf-sage: another push is running on this workspace (pid ${holder.pid}, started ${JSON.parse(await fsp.readFile(path.join(ws, '.cmf-sage', 'push.lock'), 'utf8')).started}); let it finish, then run this one again`);
    }
    assert.equal((await runCli(['push', '--workspace', ws, '--to', `dir:${path.join(root, 'out')}`, '--dry-run'])).code, 0);
  } finally {
    holder.kill('SIGKILL');
  }
  // once it is gone, its lock is stale and the next push delivers
  const r = await runCli(['push', '--workspace', ws, '--to', `dir:${path.join(root, 'out')}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await fsp.readdir(path.join(root, 'out'))).filter((n) => n.endsWith('.tar.gz')).length, 1);
});

test('SIGTERM closes the open execution cleanly and exits 0', async () => {
  const { ws, writer, args } = await setup();
  const w = new WatchProcess([...args, '--window', '3600']);
  await w.waitFor((l) => l.msg === 'watching');
  for (let i = 0; i < 5; i++) await writer.add();
  await w.waitForRecorded(5);
  const exit = await w.stop();
  assert.deepEqual(exit, { code: 0, signal: null });
  const ex = await sqlite(path.join(ws, 'mlmd'), 'SELECT last_known_state AS s FROM Execution');
  assert.deepEqual(ex, [{ s: 3 }]);
  assert.equal(await fsp.stat(path.join(ws, '.cmf-sage', 'lock')).then(() => true, () => false), false, 'lock released');
});

test('an mlmd from a newer or an older schema is refused and left untouched', async () => {
  for (const version of [11, 7]) {
    const { ws, args } = await setup();
    await fsp.mkdir(ws);
    const mlmd = path.join(ws, 'mlmd');
    await execFileP('sqlite3', [mlmd, `CREATE TABLE MLMDEnv (schema_version INTEGER PRIMARY KEY); INSERT INTO MLMDEnv VALUES (${version}); CREATE TABLE Type (id INTEGER PRIMARY KEY, name TEXT);`]);
    const before = createHash('sha256').update(await fsp.readFile(mlmd)).digest('hex');
    const run = await runCli(['watch', '--once', ...args]);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1);
    assert.match(run.stderr, version > 10 ? /schema version 11, which is newer than 10/ : /schema version 7, which is older than 10/);
    assert.equal(createHash('sha256').update(await fsp.readFile(mlmd)).digest('hex'), before);
    assert.deepEqual(await fsp.readdir(ws), ['mlmd']);
  }
});

/** A small tmpfs for the workspace (root only); undefined when mounting is not allowed. */
async function smallDisk(dir: string, size: string): Promise<boolean> {
  await fsp.mkdir(dir, { recursive: true });
  try {
    await execFileP('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
    return true;
  } catch {
    return false;
  }
}

test('disk full while caching: clear error naming the path, nothing corrupt, recorded once space returns', async (t) => {
  const { root, logdir, writer, args, modelMd5 } = await setup();
  const disk = path.join(root, 'disk');
  if (!(await smallDisk(disk, '3m'))) return t.skip('cannot mount a tmpfs here (needs root)');
  try {
    const ws = path.join(disk, 'ws');
    const wsArgs = args.map((a) => (a === path.join(root, 'ws') ? ws : a));
    await writer.add(1024);
    assert.equal((await runCli(['watch', '--once', ...wsArgs])).code, 0);
    await writer.add(4 << 20); // larger than the free space
    const full = await runCli(['watch', '--once', ...wsArgs]);
    assert.equal(full.code, 74, full.stderr);
    assert.match(full.stderr, /no space left on device while copying .*frame\.jpg into the DVC cache.*free some disk space/);
    await checkInvariantsUpTo(ws, 1);
    await execFileP('mount', ['-o', 'remount,size=64m', disk]);
    const again = await runCli(['watch', '--once', ...wsArgs]);
    assert.equal(again.code, 0, again.stderr);
    await checkInvariants(ws, logdir, modelMd5);
  } finally {
    await execFileP('umount', ['-l', disk]).catch(() => undefined);
  }
});

/** The mlmd opens, is intact, and holds exactly n uploads. */
async function checkInvariantsUpTo(ws: string, n: number): Promise<void> {
  assert.deepEqual(await sqlite(path.join(ws, 'mlmd'), 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
  const rows = await sqlite(path.join(ws, 'mlmd'), "SELECT count(*) AS n FROM ArtifactProperty WHERE name='upload_key'");
  assert.deepEqual(rows, [{ n }]);
  await execFileP('git', ['fsck', '--full', '--strict'], { cwd: ws });
}

test('permission denied: clear error naming the path, exit 77, nothing written', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to run a command as another user');
  const root = await tempDir('perm-');
  await fsp.chmod(root, 0o755);
  const logdir = await copyFixture('pywaggle-binary/logdir', path.join(root, 'logdir'));
  const model = path.join(root, 'model.bin');
  await fsp.copyFile(path.join(FIXTURES, 'model', 'smoke-model-v1.bin'), model);
  await execFileP('chmod', ['-R', 'a+rX', root]);
  const ws = path.join(root, 'ws'); // root owns `root`, so nobody cannot create it
  let run;
  try {
    await execFileP('runuser', ['-u', 'nobody', '--', process.execPath, path.join(process.cwd(), 'bin', 'cmf-sage'), '--version']);
  } catch {
    return t.skip('runuser is not available');
  }
  try {
    await execFileP('runuser', ['-u', 'nobody', '--', process.execPath, path.join(process.cwd(), 'bin', 'cmf-sage'), 'watch', '--once', '--pipeline', 'p', '--model', model, '--results', logdir, '--workspace', ws], { env: { ...process.env, HOME: '/tmp' } });
    assert.fail('expected a permission error');
  } catch (err) {
    run = err as { code: number; stderr: string };
  }
  assert.equal(run.code, 77, run.stderr);
  assert.match(run.stderr, /permission denied while creating the workspace .*ws.*give this user write access/);
  assert.equal(await fsp.stat(ws).then(() => true, () => false), false);
});

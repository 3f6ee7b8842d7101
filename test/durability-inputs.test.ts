import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import YAML from 'yaml';
import { execFileP, FIXTURES, runCli, sqlite, tempDir } from './helpers.js';
import { WatchProcess } from './watch-process.js';
import { ResultWriter, checkInvariants } from './durability-helpers.js';

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function base(prefix: string) {
  const root = await tempDir(prefix);
  const model = path.join(root, 'model.bin');
  await fsp.copyFile(path.join(FIXTURES, 'model', 'smoke-model-v1.bin'), model);
  const ws = path.join(root, 'ws');
  return { root, model, ws, modelMd5: md5(await fsp.readFile(model)) };
}

async function datasets(ws: string): Promise<{ name: string; uri: string }[]> {
  return (await sqlite(
    path.join(ws, 'mlmd'),
    "SELECT a.name, a.uri FROM Artifact a JOIN Type t ON t.id=a.type_id WHERE t.name='Dataset' ORDER BY a.id",
  )) as { name: string; uri: string }[];
}

test('a plain folder under watch: symlinks, growing files, atomic saves, empty files, odd names', async () => {
  const odd = 'we"ird \'q\'\nname ü.txt';
  // the newline made safe, with a hash of the real name before the extension
  const safeOdd = `we"ird 'q'_name ü~${createHash('sha1').update(odd).digest('hex').slice(0, 10)}.txt`;
  const { root, model, ws } = await base('hostile-dir-');
  const results = path.join(root, 'results');
  await fsp.mkdir(results);
  const outside = path.join(root, 'secret.txt');
  await fsp.writeFile(outside, 'not a result');
  const w = new WatchProcess(['--pipeline', 'p', '--model', model, '--results', results, '--workspace', ws, '--source', 'dir', '--settle', '0.6']);
  try {
    await w.waitFor((l) => l.msg === 'watching');
    // a symbolic link pointing outside the folder: not followed
    await fsp.symlink(outside, path.join(results, 'link.txt'));
    // a file that keeps growing for a while: recorded once, complete
    const grow = path.join(results, 'growing.bin');
    const chunks: Buffer[] = [];
    for (let i = 1; i <= 5; i++) {
      const c = Buffer.alloc(1 << 20, i);
      chunks.push(c);
      await fsp.appendFile(grow, c);
      await sleep(150);
    }
    // an empty file and names with a newline, quotes and unicode
    await fsp.writeFile(path.join(results, 'empty.dat'), '');
    await fsp.writeFile(path.join(results, odd), 'odd');
    // and the name the odd one is made safe as, taken by a file of its own: two pointers, not one
    await fsp.writeFile(path.join(results, 'we"ird \'q\'_name ü.txt'), 'twin');
    await w.waitForRecorded(4, 20_000);
    // an editor-style atomic save replaces a recorded file: a new version
    await fsp.writeFile(path.join(results, 'notes.txt'), 'v1');
    await w.waitForRecorded(5, 20_000);
    await fsp.writeFile(path.join(results, '.notes.txt.swp'), 'editor temp');
    await fsp.writeFile(path.join(results, 'notes.txt.tmp'), 'v2');
    await fsp.rename(path.join(results, 'notes.txt.tmp'), path.join(results, 'notes.txt'));
    await w.waitForRecorded(6, 20_000);
    await sleep(1500);
    assert.equal(w.count((l) => l.msg.startsWith('recorded ')), 6, 'nothing else was recorded');
    assert.ok(w.logs.some((l) => l.level === 40 && /symbolic link/.test(l.msg) && String(l.path).endsWith('link.txt')));
  } finally {
    assert.equal((await w.stop()).code, 0);
  }
  const ds = await datasets(ws);
  const byPath = new Map<string, string[]>();
  for (const d of ds) byPath.set(d.name.split(':')[0], [...(byPath.get(d.name.split(':')[0]) ?? []), d.uri]);
  assert.deepEqual([...byPath.keys()].sort(), [
    'results/empty.dat',
    'results/growing.bin',
    'results/notes.txt',
    'results/we"ird \'q\'_name ü.txt',
    `results/${safeOdd}`,
  ]);
  assert.deepEqual(byPath.get('results/growing.bin'), [md5(Buffer.concat([Buffer.alloc(1 << 20, 1), Buffer.alloc(1 << 20, 2), Buffer.alloc(1 << 20, 3), Buffer.alloc(1 << 20, 4), Buffer.alloc(1 << 20, 5)]))]);
  assert.deepEqual(byPath.get('results/empty.dat'), ['d41d8cd98f00b204e9800998ecf8427e']);
  assert.deepEqual(byPath.get('results/notes.txt'), [md5('v1'), md5('v2')]);
  // the pointer of the odd name is valid YAML naming the (made safe) file
  const ptr = YAML.parse(await fsp.readFile(path.join(ws, 'results', `${safeOdd}.dvc`), 'utf8'));
  assert.deepEqual(ptr.outs[0], { md5: md5('odd'), size: 3, hash: 'md5', path: safeOdd });
  assert.equal(YAML.parse(await fsp.readFile(path.join(ws, 'results', 'we"ird \'q\'_name ü.txt.dvc'), 'utf8')).outs[0].md5, md5('twin'));
  assert.match(await fsp.readFile(path.join(ws, 'results', 'notes.txt.dvc'), 'utf8'), new RegExp(md5('v2')));
  // no cache object exists for a partial size of the growing file
  const objects = (await execFileP('find', [path.join(ws, '.dvc', 'cache', 'files', 'md5'), '-type', 'f'])).stdout.trim().split('\n');
  assert.equal(objects.length, 6 + 1, 'six result versions and the model');
  await execFileP('git', ['fsck', '--full', '--strict'], { cwd: ws });
  // the previous notes.txt version is still in git history
  const log = (await execFileP('git', ['log', '--format=%H', '--', 'results/notes.txt.dvc'], { cwd: ws })).stdout.trim().split('\n');
  assert.equal(log.length, 2);
});

test('a pywaggle folder under watch: deleted and re-created, truncated, rotated, long and broken lines', async () => {
  const { root, model, ws } = await base('hostile-pw-');
  const logdir = path.join(root, 'logdir');
  const writer = new ResultWriter(logdir, 1796312200000000000n);
  await writer.init();
  const w = new WatchProcess(['--pipeline', 'p', '--model', model, '--results', logdir, '--workspace', ws, '--source', 'pywaggle', '--settle', '0']);
  const recorded = () => w.count((l) => l.msg.startsWith('recorded '));
  try {
    await w.waitFor((l) => l.msg === 'watching');
    await writer.add();
    await w.waitForRecorded(1);
    // the whole folder is deleted and re-created
    await fsp.rm(logdir, { recursive: true });
    await sleep(300);
    const writer2 = new ResultWriter(logdir, 1796312300000000000n);
    await writer2.init();
    await writer2.add();
    await w.waitForRecorded(2);
    // truncated in place, then new lines
    await fsp.truncate(path.join(logdir, 'data.ndjson'), 0);
    await writer2.add();
    await w.waitForRecorded(3);
    // rotated: renamed away, a new file started
    await fsp.rename(path.join(logdir, 'data.ndjson'), path.join(logdir, 'data.ndjson.1'));
    await writer2.add();
    await w.waitForRecorded(4);
    // a 1.5 MiB line, a NUL line, an invalid UTF-8 line, then a good upload
    const big = 'x'.repeat(1536 * 1024);
    await fsp.appendFile(path.join(logdir, 'data.ndjson'), `{"meta":{},"name":"env.big","timestamp":"2026-12-03T15:40:00.000000001","value":"${big}"}\n`);
    await fsp.appendFile(path.join(logdir, 'data.ndjson'), Buffer.from('{"meta":{},"name":"env.nul","timestamp":"2026-12-03T15:40:00.000000002","value":"a\u0000b"}\n'));
    await fsp.appendFile(path.join(logdir, 'data.ndjson'), Buffer.concat([Buffer.from('{"meta":{},"name":"env.utf","timestamp":"2026-12-03T15:40:00.000000003","value":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]));
    // an upload whose file is a symbolic link to something outside
    await fsp.writeFile(path.join(root, 'outside.jpg'), 'outside');
    await fsp.symlink(path.join(root, 'outside.jpg'), path.join(logdir, 'uploads', '1796312400000000000-link.jpg'));
    await fsp.appendFile(path.join(logdir, 'data.ndjson'), '{"meta":{"filename":"link.jpg"},"name":"upload","timestamp":"2026-12-03T15:40:00.000000000","value":"/x/uploads/1796312400000000000-link.jpg"}\n');
    await writer2.add();
    await w.waitForRecorded(5);
    await sleep(500);
    assert.equal(recorded(), 5);
    const warns = w.logs.filter((l) => l.level === 40).map((l) => l.msg);
    assert.ok(warns.some((m) => /NUL bytes/.test(m)), 'NUL line warned');
    assert.ok(warns.some((m) => /not valid UTF-8/.test(m)), 'invalid UTF-8 warned');
    assert.ok(warns.some((m) => /symbolic link; not followed/.test(m)), 'symlinked upload warned');
    assert.ok(w.logs.some((l) => /truncated or replaced/.test(l.msg)));
  } finally {
    assert.equal((await w.stop()).code, 0);
  }
  const long = await sqlite(path.join(ws, 'mlmd'), "SELECT length(string_value) AS n FROM ArtifactProperty WHERE name='measurement' AND string_value='env.big'");
  assert.equal(long.length, 1, 'the 1.5 MiB measurement was recorded');
  const v = await sqlite(path.join(ws, 'mlmd'), "SELECT length(p.string_value) AS n FROM ArtifactProperty p WHERE p.name='value' AND typeof(p.string_value)='text' ORDER BY n DESC LIMIT 1");
  assert.deepEqual(v, [{ n: 1536 * 1024 }]);
  assert.equal((await datasets(ws)).length, 5);
  await execFileP('git', ['fsck', '--full', '--strict'], { cwd: ws });
});

test('10,000 results appearing at once are all recorded; a restart re-hashes none of them', { timeout: 300_000 }, async () => {
  const { root, model, ws, modelMd5 } = await base('burst-');
  const logdir = path.join(root, 'logdir');
  await fsp.mkdir(path.join(logdir, 'uploads'), { recursive: true });
  let lines = '';
  for (let i = 0; i < 10_000; i++) {
    const name = `${1796312500000000000n + BigInt(i) * 1000n}-f.jpg`;
    await fsp.writeFile(path.join(logdir, 'uploads', name), `frame ${i}`);
    lines += `{"meta":{"filename":"f.jpg"},"name":"upload","timestamp":"2026-12-03T15:45:00.000000000","value":"/x/uploads/${name}"}\n`;
  }
  await fsp.writeFile(path.join(logdir, 'data.ndjson'), lines);
  const args = ['watch', '--once', '--pipeline', 'p', '--model', model, '--results', logdir, '--workspace', ws];
  const first = await runCli(args, { env: { CMF_SAGE_LOG_LEVEL: 'warn' } });
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /recorded 10000 result/);
  const again = await runCli(args);
  assert.equal(again.code, 0);
  const stopped = again.stderr.trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.msg === 'stopped');
  assert.deepEqual({ recorded: stopped.recorded, hashed: stopped.hashed }, { recorded: 0, hashed: 0 });
  await checkInvariants(ws, logdir, modelMd5);
});

test('a plain folder of 2,000 recorded files: a restart re-hashes none of them', { timeout: 300_000 }, async () => {
  const { root, model, ws } = await base('catchup-');
  const results = path.join(root, 'results');
  await fsp.mkdir(path.join(results, 'a'), { recursive: true });
  for (let i = 0; i < 2000; i++) await fsp.writeFile(path.join(results, 'a', `r${i}.json`), `{"i":${i}}`);
  const args = ['watch', '--once', '--pipeline', 'p', '--model', model, '--results', results, '--workspace', ws, '--source', 'dir', '--settle', '0'];
  assert.match((await runCli(args, { env: { CMF_SAGE_LOG_LEVEL: 'warn' } })).stdout, /recorded 2000 result/);
  const again = await runCli(args);
  const stopped = again.stderr.trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.msg === 'stopped');
  assert.deepEqual({ recorded: stopped.recorded, hashed: stopped.hashed }, { recorded: 0, hashed: 0 });
});

test('a 2 GiB result is streamed: right md5, memory far below the file size', { timeout: 300_000 }, async () => {
  const { root, model, ws } = await base('big-');
  const logdir = path.join(root, 'logdir');
  await fsp.mkdir(path.join(logdir, 'uploads'), { recursive: true });
  const name = '1796312600000000000-big.raw';
  await execFileP('truncate', ['-s', '2147483648', path.join(logdir, 'uploads', name)]);
  await fsp.writeFile(path.join(logdir, 'data.ndjson'), `{"meta":{"filename":"big.raw"},"name":"upload","timestamp":"2026-12-03T15:50:00.000000000","value":"/x/uploads/${name}"}\n`);
  const w = new WatchProcess(['--once', '--pipeline', 'p', '--model', model, '--results', logdir, '--workspace', ws]);
  let peakKb = 0;
  const sampler = setInterval(async () => {
    try {
      const status = await fsp.readFile(`/proc/${w.pid}/status`, 'utf8');
      const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      if (hwm > peakKb) peakKb = hwm;
    } catch {
      // exited
    }
  }, 100);
  const exit = await w.wait();
  clearInterval(sampler);
  assert.equal(exit.code, 0, w.stderrText.slice(-1000));
  const ds = await datasets(ws);
  assert.deepEqual(ds.map((d) => d.uri), ['a981130cf2b7e09f4686dc273cf7187e']);
  const sha1 = await sqlite(path.join(ws, 'mlmd'), "SELECT string_value AS s FROM ArtifactProperty WHERE name='sha1' AND artifact_id IN (SELECT artifact_id FROM ArtifactProperty WHERE name='upload_key')");
  assert.deepEqual(sha1, [{ s: '91d50642dd930e9542c39d36f0516d45f4e1af0d' }]);
  assert.ok(peakKb > 0 && peakKb < 300 * 1024, `peak RSS ${Math.round(peakKb / 1024)} MB`);
  await fsp.rm(path.join(ws, '.dvc', 'cache'), { recursive: true, force: true }); // free 2 GiB now
});

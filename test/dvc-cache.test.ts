import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DvcCache, SourceChangedError, type OpenTemp } from '../src/dvc/index.js';
import { UserError } from '../src/errors.js';

const run = promisify(execFile);

async function tmpdir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dvc-cache-'));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

async function md5sum(file: string): Promise<string> {
  return (await run('md5sum', [file])).stdout.split(' ')[0]!;
}

async function mode(p: string): Promise<string> {
  return (await run('stat', ['-c', '%a', p])).stdout.trim();
}

/** Every file under the cache root, relative: proves nothing else (temp files) is left. */
async function allFiles(root: string): Promise<string[]> {
  const { stdout } = await run('find', [root, '-type', 'f']);
  return stdout.split('\n').filter(Boolean).map((f) => path.relative(root, f)).sort();
}

/** Check every object with md5sum: its content hashes to its name, it is 0444, its dirs 0755. */
async function assertCacheSound(root: string): Promise<number> {
  const files = await allFiles(root);
  for (const rel of files) {
    const m = /^files\/md5\/([0-9a-f]{2})\/([0-9a-f]{30})$/.exec(rel);
    assert.ok(m, `unexpected file in cache: ${rel}`);
    assert.equal(await md5sum(path.join(root, rel)), m[1]! + m[2]!, `${rel} content`);
    assert.equal(await mode(path.join(root, rel)), '444', `${rel} mode`);
    assert.equal(await mode(path.join(root, 'files', 'md5', m[1]!)), '755');
  }
  for (const d of ['', 'files', 'files/md5']) assert.equal(await mode(path.join(root, d)), '755', `${d || 'root'} mode`);
  return files.length;
}

function warnings(): { warn(obj: object, msg?: string): void; calls: unknown[][] } {
  const calls: unknown[][] = [];
  return { calls, warn: (obj: object, msg?: string) => void calls.push([obj, msg]) };
}

test('addFile stores objects at files/md5/xx/rest, named by md5sum, 0444 in 0755 dirs', async (t) => {
  const dir = await tmpdir(t);
  const cache = new DvcCache(path.join(dir, '.dvc', 'cache'));
  const contents = ['foo', '', 'frame-0001\n', Buffer.alloc(3 * (1 << 20) + 7, 0xab)];
  for (const [i, c] of contents.entries()) {
    const src = path.join(dir, `src${i}`);
    await fsp.writeFile(src, c);
    const r = await cache.addFile(src);
    assert.equal(r.md5, await md5sum(src));
    assert.equal(r.sha1, (await run('sha1sum', [src])).stdout.split(' ')[0]);
    assert.equal(r.size, Buffer.byteLength(c));
    assert.equal(r.created, true);
    assert.equal(r.objectPath, cache.objectPath(r.md5));
    assert.equal(r.objectPath, path.join(dir, '.dvc/cache/files/md5', r.md5.slice(0, 2), r.md5.slice(2)));
  }
  await cache.flush();
  assert.equal(cache.objectPath('acbd18db4cc2f85cedef654fccc4a4d8'), path.join(dir, '.dvc/cache/files/md5/ac/bd18db4cc2f85cedef654fccc4a4d8'));
  assert.equal(await assertCacheSound(path.join(dir, '.dvc', 'cache')), 4);
  const listed: string[] = [];
  for await (const m of cache.list()) listed.push(m);
  assert.equal(listed.length, 4);
  assert.ok(listed.includes('acbd18db4cc2f85cedef654fccc4a4d8'));
  assert.ok(listed.includes('d41d8cd98f00b204e9800998ecf8427e'));
});

test('adding the same content again keeps the verified object (created:false)', async (t) => {
  const dir = await tmpdir(t);
  const cache = new DvcCache(path.join(dir, 'cache'));
  await fsp.writeFile(path.join(dir, 'a'), 'same');
  await fsp.writeFile(path.join(dir, 'b'), 'same');
  const first = await cache.addFile(path.join(dir, 'a'));
  const before = await fsp.stat(first.objectPath);
  const second = await cache.addFile(path.join(dir, 'b'));
  assert.equal(second.created, false);
  assert.equal(second.md5, first.md5);
  assert.equal((await fsp.stat(first.objectPath)).ino, before.ino, 'object was not rewritten');
  assert.equal(await assertCacheSound(path.join(dir, 'cache')), 1);
});

test('B05: a truncated 0444 object under the right name is replaced, and logged once', async (t) => {
  const dir = await tmpdir(t);
  const root = path.join(dir, '.dvc', 'cache');
  const seeded = path.join(root, 'files/md5/5e/6f8d81322ed1fe8be52d792a476c57');
  await fsp.mkdir(path.dirname(seeded), { recursive: true });
  await fsp.writeFile(seeded, 'fra', { mode: 0o444 });
  await fsp.chmod(seeded, 0o444);
  const log = warnings();
  const cache = new DvcCache(root, { logger: log });
  const src = path.join(dir, 'frame.jpg');
  await fsp.writeFile(src, 'frame-0001\n');
  const r = await cache.addFile(src);
  assert.equal(r.md5, '5e6f8d81322ed1fe8be52d792a476c57');
  assert.equal(r.created, true);
  assert.equal((await fsp.stat(seeded)).size, 11);
  assert.equal(await md5sum(seeded), '5e6f8d81322ed1fe8be52d792a476c57');
  assert.equal(await mode(seeded), '444');
  assert.equal(log.calls.length, 1);
  // Once repaired, a further add finds it good and says nothing.
  assert.equal((await cache.addFile(src)).created, false);
  assert.equal(log.calls.length, 1);
  await assertCacheSound(root);
});

test('B05: same size but wrong content is replaced too; a writable correct object is re-protected', async (t) => {
  const dir = await tmpdir(t);
  const root = path.join(dir, 'cache');
  const cache = new DvcCache(root, { logger: warnings() });
  const src = path.join(dir, 'x');
  await fsp.writeFile(src, 'frame-0001\n');
  const obj = cache.objectPath('5e6f8d81322ed1fe8be52d792a476c57');
  await fsp.mkdir(path.dirname(obj), { recursive: true });
  await fsp.writeFile(obj, 'XXXXXXXXXXX');
  assert.equal((await cache.addFile(src)).created, true);
  assert.equal(await md5sum(obj), '5e6f8d81322ed1fe8be52d792a476c57');
  await fsp.chmod(obj, 0o200); // write-only, as in dvc #505
  assert.equal((await cache.addFile(src)).created, false);
  assert.equal(await mode(obj), '444');
});

test('dirs are 0755 and objects 0444 even under umask 077', async (t) => {
  const dir = await tmpdir(t);
  const old = process.umask(0o077);
  try {
    const cache = new DvcCache(path.join(dir, 'deep', 'cache'));
    await fsp.writeFile(path.join(dir, 's'), 'umask');
    await cache.addFile(path.join(dir, 's'));
  } finally {
    process.umask(old);
  }
  assert.equal(await mode(path.join(dir, 'deep')), '755');
  await assertCacheSound(path.join(dir, 'deep', 'cache'));
});

test('has, verify, remove, cleanTemps', async (t) => {
  const dir = await tmpdir(t);
  const root = path.join(dir, 'cache');
  const cache = new DvcCache(root);
  await fsp.writeFile(path.join(dir, 'foo'), 'foo');
  const { md5 } = await cache.addFile(path.join(dir, 'foo'));
  assert.equal(await cache.has(md5), true);
  assert.equal(await cache.verify(md5), true);
  assert.equal(await cache.has('00000000000000000000000000000000'), false);
  assert.equal(await cache.verify('00000000000000000000000000000000'), false);
  // A fresh instance knows no sizes, so has() must rehash: a corrupt object is not "had".
  await fsp.chmod(cache.objectPath(md5), 0o644);
  await fsp.writeFile(cache.objectPath(md5), 'bar');
  const fresh = new DvcCache(root);
  assert.equal(await fresh.has(md5), false);
  assert.equal(await fresh.verify(md5), false);
  await fresh.remove(md5);
  assert.equal(await fresh.has(md5), false);
  await fsp.writeFile(path.join(root, 'files/md5/.incoming.0123456789ab.tmp'), 'partial');
  await fsp.mkdir(path.join(root, 'files/md5/ac'), { recursive: true });
  await fsp.writeFile(path.join(root, 'files/md5/ac/.bd18.0123456789ab.tmp'), 'partial');
  assert.equal(await fresh.cleanTemps(), 2);
  assert.deepEqual(await allFiles(root), []);
  assert.throws(() => cache.objectPath('../../etc/passwd'), /32 lowercase hex/);
  await cache.flush();
});

test('SourceChangedError when the file grows during the copy; no temp or object is left; a retry succeeds', async (t) => {
  const dir = await tmpdir(t);
  const root = path.join(dir, 'cache');
  const cache = new DvcCache(root);
  const src = path.join(dir, 'model.onnx');
  await fsp.writeFile(src, Buffer.alloc(192 << 20, 7));
  // A real concurrent writer: append while addFile is mid-copy (the copy takes hundreds of ms).
  const adding = cache.addFile(src);
  await new Promise((r) => setTimeout(r, 40));
  await fsp.appendFile(src, 'more');
  await assert.rejects(adding, (err: unknown) => {
    assert.ok(err instanceof SourceChangedError);
    assert.match(err.message, /model\.onnx changed while it was being copied/);
    return true;
  });
  assert.deepEqual(await allFiles(root), []);
  const r = await cache.addFile(src);
  assert.equal(r.md5, await md5sum(src));
  assert.equal(r.size, (192 << 20) + 4);
});

test('SourceChangedError when bytes are rewritten in place (same size, new mtime)', async (t) => {
  const dir = await tmpdir(t);
  const root = path.join(dir, 'cache');
  const src = path.join(dir, 'rewrite.bin');
  await fsp.writeFile(src, Buffer.alloc(192 << 20, 1));
  const adding = new DvcCache(root).addFile(src);
  await new Promise((r) => setTimeout(r, 40));
  const fh = await fsp.open(src, 'r+');
  await fh.write(Buffer.from([9]), 0, 1, 0);
  await fh.close();
  await assert.rejects(adding, SourceChangedError);
  assert.deepEqual(await allFiles(root), []);
});

/** Wrap the real temp handle so writes fail after `okBytes`, as a full disk would. */
function failingWrites(code: string, okBytes: number): OpenTemp {
  return async (file) => {
    const fh = await fsp.open(file, 'wx', 0o644);
    let written = 0;
    const realWrite = fh.write.bind(fh) as (...a: unknown[]) => Promise<{ bytesWritten: number }>;
    (fh as unknown as { write: unknown }).write = async (...args: unknown[]) => {
      if (written >= okBytes) throw Object.assign(new Error(`${code}: injected`), { code, syscall: 'write' });
      const r = await realWrite(...args);
      written += r.bytesWritten;
      return r;
    };
    return fh;
  };
}

test('ENOSPC (injected through the openTemp seam) mid-copy: UserError, temp removed, nothing under a final name', async (t) => {
  const dir = await tmpdir(t);
  const root = path.join(dir, 'cache');
  const cache = new DvcCache(root, { openTemp: failingWrites('ENOSPC', 1 << 20) });
  const src = path.join(dir, 'big');
  await fsp.writeFile(src, Buffer.alloc(4 << 20, 3));
  await assert.rejects(cache.addFile(src), (err: unknown) => {
    assert.ok(err instanceof UserError);
    assert.equal(err.exitCode, 74);
    assert.match(err.message, /no space left on device while copying .*big into the DVC cache/);
    return true;
  });
  assert.deepEqual(await allFiles(root), []);
});

test('EACCES (injected through the openTemp seam): UserError 77, nothing left', async (t) => {
  const dir = await tmpdir(t);
  const root = path.join(dir, 'cache');
  const denied: OpenTemp = async (file) => {
    throw Object.assign(new Error(`EACCES: permission denied, open '${file}'`), { code: 'EACCES', path: file });
  };
  await fsp.writeFile(path.join(dir, 'f'), 'x');
  await assert.rejects(new DvcCache(root, { openTemp: denied }).addFile(path.join(dir, 'f')), (err: unknown) => {
    assert.ok(err instanceof UserError);
    assert.equal(err.exitCode, 77);
    assert.match(err.message, /permission denied while copying/);
    return true;
  });
  assert.deepEqual(await allFiles(root), []);
});

test('real EACCES: a non-root child process adding into a root-owned cache', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to switch to uid 65534');
  const dir = await tmpdir(t);
  await fsp.chmod(dir, 0o755);
  const root = path.join(dir, 'cache');
  const seed = new DvcCache(root);
  await fsp.writeFile(path.join(dir, 'seed'), 'seed');
  await seed.addFile(path.join(dir, 'seed'));
  await fsp.writeFile(path.join(dir, 'data'), 'data', { mode: 0o644 });
  const mod = new URL('../src/dvc/index.js', import.meta.url).href;
  const script = `import { DvcCache } from ${JSON.stringify(mod)};
    try { await new DvcCache(${JSON.stringify(root)}).addFile(${JSON.stringify(path.join(dir, 'data'))}); console.log('{"ok":true}'); }
    catch (e) { console.log(JSON.stringify({ name: e.name, exitCode: e.exitCode, message: e.message })); }`;
  let out: string;
  try {
    out = (await run(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, cwd: '/' })).stdout;
  } catch (err) {
    return t.skip(`cannot run as uid 65534 here: ${(err as Error).message}`);
  }
  const res = JSON.parse(out) as { name: string; exitCode: number; message: string };
  assert.equal(res.name, 'UserError');
  assert.equal(res.exitCode, 77);
  assert.match(res.message, /permission denied while copying .*data into the DVC cache/);
  assert.equal(await assertCacheSound(root), 1);
});

test('real ENOSPC on a 1 MiB tmpfs (skipped if mounting is not allowed)', async (t) => {
  const dir = await tmpdir(t);
  const mnt = path.join(dir, 'mnt');
  await fsp.mkdir(mnt);
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
  } catch {
    return t.skip('mount -t tmpfs not permitted');
  }
  try {
    const root = path.join(mnt, 'cache');
    const src = path.join(dir, 'two-mib');
    await fsp.writeFile(src, Buffer.alloc(2 << 20, 5));
    await assert.rejects(new DvcCache(root).addFile(src), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /^no space left on device while copying/);
      return true;
    });
    assert.deepEqual(await allFiles(root), []);
  } finally {
    await run('umount', [mnt]);
  }
});

test('ENOTDIR: a cache root under a regular file gives a UserError naming the copy', async (t) => {
  const dir = await tmpdir(t);
  await fsp.writeFile(path.join(dir, 'file'), 'not a dir');
  await fsp.writeFile(path.join(dir, 'src'), 'x');
  await assert.rejects(new DvcCache(path.join(dir, 'file', 'cache')).addFile(path.join(dir, 'src')), (err: unknown) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /copying .*src into the DVC cache failed/);
    return true;
  });
});

test('a missing source is reported as a UserError naming the file', async (t) => {
  const dir = await tmpdir(t);
  await assert.rejects(new DvcCache(path.join(dir, 'c')).addFile(path.join(dir, 'gone.jpg')), /gone\.jpg/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashFile, md5File } from '../src/dvc/index.js';

const run = promisify(execFile);

async function tool(cmd: string, file: string): Promise<string> {
  const { stdout } = await run(cmd, [file]);
  return stdout.split(' ')[0]!;
}

async function tmpdir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dvc-hash-'));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

test('hashFile agrees with md5sum and sha1sum on empty, small, chunk-edge and multi-chunk files', async (t) => {
  const dir = await tmpdir(t);
  const sizes = [0, 3, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 5 * (1 << 20) + 12345];
  for (const size of sizes) {
    const file = path.join(dir, `f${size}`);
    const buf = Buffer.alloc(size);
    for (let i = 0; i < size; i++) buf[i] = (i * 31 + (i >> 11)) & 0xff;
    await fsp.writeFile(file, buf);
    const h = await hashFile(file);
    assert.equal(h.size, size);
    assert.equal(h.md5, await tool('md5sum', file), `md5 of ${size} bytes`);
    assert.equal(h.sha1, await tool('sha1sum', file), `sha1 of ${size} bytes`);
    assert.deepEqual(await md5File(file), { md5: h.md5, size });
  }
});

test('hashFile of `foo` is the DVC example md5', async (t) => {
  const dir = await tmpdir(t);
  await fsp.writeFile(path.join(dir, 'foo'), 'foo');
  const h = await hashFile(path.join(dir, 'foo'));
  assert.equal(h.md5, 'acbd18db4cc2f85cedef654fccc4a4d8');
  assert.equal(h.sha1, '0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33');
});

test('hashFile rejects a missing file with ENOENT', async (t) => {
  const dir = await tmpdir(t);
  await assert.rejects(hashFile(path.join(dir, 'nope')), { code: 'ENOENT' });
});

test('B06: a 2 GiB sparse file hashes with constant memory', async (t) => {
  const dir = await tmpdir(t);
  const file = path.join(dir, 'big.onnx');
  await run('truncate', ['-s', '2147483648', file]);
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  // Real tools run concurrently in child processes; they do not count towards our RSS.
  const [h, md5, sha1] = await Promise.all([hashFile(file), tool('md5sum', file), tool('sha1sum', file)]).finally(() =>
    clearInterval(timer),
  );
  assert.equal(h.size, 2147483648);
  assert.equal(h.md5, 'a981130cf2b7e09f4686dc273cf7187e');
  assert.equal(h.sha1, '91d50642dd930e9542c39d36f0516d45f4e1af0d');
  assert.equal(h.md5, md5);
  assert.equal(h.sha1, sha1);
  assert.ok(peak < 200 * 1024 * 1024, `peak RSS ${Math.round(peak / 1048576)} MB should stay below 200 MB`);
});

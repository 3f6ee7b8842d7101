// `cmf artifact push` without dvc: objects of the DVC cache to a local folder
// remote and to a real HTTP remote (Debian's nginx with WebDAV PUT and a Bearer
// check, as `cmf init osdfremote` sets one up), judged by md5sum on the
// server's side of the files; network faults come from a TCP proxy between them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { UserError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { pushArtifacts, type ArtifactProgress } from '../src/server/artifacts.js';
import { readDvcRemote } from '../src/server/config.js';
import { execFileP, tempDir } from './helpers.js';
import { FaultProxy, NginxDav, nginxBinary } from './server-harness.js';
import { md5sum, runChild } from './server-helpers.js';

const FAST = { baseMs: 5, maxMs: 40 };
const TOKEN = 'tok-3f9a2c';
const skip = nginxBinary() ? false : 'nginx is not installed (.ci/run installs it)';

interface Ws {
  ws: string;
  objects: { md5: string; size: number; file: string }[];
}

/** A workspace with a DVC cache holding `sizes.length` objects (random bytes), mode 0444 as DVC leaves them. */
async function cacheWorkspace(sizes: number[], mode = 0o444): Promise<Ws> {
  const ws = await tempDir('server-art-');
  const objects = [];
  for (const size of sizes) {
    const buf = randomBytes(size);
    const md5 = createHash('md5').update(buf).digest('hex');
    const dir = path.join(ws, '.dvc', 'cache', 'files', 'md5', md5.slice(0, 2));
    await fsp.mkdir(dir, { recursive: true });
    const file = path.join(dir, md5.slice(2));
    await fsp.writeFile(file, buf);
    await fsp.chmod(file, mode);
    objects.push({ md5, size, file });
  }
  return { ws, objects };
}

test('local folder remote: atomic, md5-checked copies, read-only like DVC; existing objects skipped', async () => {
  const w = await cacheWorkspace([0, 1, 5000, 3 << 20]);
  const remoteDir = path.join(await tempDir('server-remote-'), 'local-storage');
  const remote = { name: 'local-storage', url: remoteDir, options: {} };
  const seen: ArtifactProgress[] = [];
  const r1 = await pushArtifacts({ workspace: w.ws, objects: w.objects.map((o) => o.md5), remote, logger: silentLogger(), onProgress: (p) => seen.push(p) });
  assert.deepEqual(r1, { sent: 4, skipped: 0, bytes: 5001 + (3 << 20) });
  for (const o of w.objects) {
    const f = path.join(remoteDir, 'files', 'md5', o.md5.slice(0, 2), o.md5.slice(2));
    assert.equal(await md5sum(f), o.md5);
    assert.equal((await fsp.stat(f)).mode & 0o777, 0o444);
  }
  assert.deepEqual(seen.at(-1), { objectsDone: 4, objectsTotal: 4, bytesDone: r1.bytes, bytesTotal: r1.bytes, sent: 4, skipped: 0 });
  const r2 = await pushArtifacts({ workspace: w.ws, objects: w.objects.map((o) => o.md5), remote, logger: silentLogger() });
  assert.deepEqual(r2, { sent: 0, skipped: 4, bytes: 0 });
  const { stdout } = await execFileP('find', [remoteDir, '-name', '*.tmp']);
  assert.equal(stdout, '', 'no temp files left');
});

test('local folder remote: a damaged cache object is refused and leaves nothing behind', async () => {
  const w = await cacheWorkspace([4096], 0o644);
  await fsp.writeFile(w.objects[0]!.file, Buffer.alloc(4096, 7)); // same size, other bytes
  const remoteDir = path.join(await tempDir('server-remote-'), 'r');
  await assert.rejects(
    pushArtifacts({ workspace: w.ws, objects: [w.objects[0]!.md5], remote: { name: 'local-storage', url: remoteDir, options: {} }, logger: silentLogger() }),
    (e: unknown) => e instanceof UserError && /is damaged/.test(e.message),
  );
  const { stdout } = await execFileP('find', [remoteDir, '-type', 'f']);
  assert.equal(stdout, '');
});

test('readDvcRemote: the osdf remote with its keys; a relative local path resolves from .dvc/', async () => {
  const ws = await tempDir('server-cfg-');
  await fsp.mkdir(path.join(ws, '.dvc'));
  await fsp.writeFile(
    path.join(ws, '.dvc', 'config'),
    `[core]\n    remote = osdf\n['remote "osdf"']\n    url = https://origin.example:8443/nrp/fdp\n    method = PUT\n    ssl_verify = false\n    auth = custom\n    custom_auth_header = Authorization\n    password = "Bearer abc"\n['remote "local-storage"']\n    url = ../../store\n`,
  );
  const r = await readDvcRemote(ws);
  assert.equal(r.name, 'osdf');
  assert.equal(r.url, 'https://origin.example:8443/nrp/fdp');
  assert.equal(r.options.method, 'PUT');
  assert.equal(r.options.password, 'Bearer abc');
  const l = await readDvcRemote(ws, 'local-storage');
  assert.equal(l.url, path.resolve(ws, '..', 'store'));
});

test('unsupported remotes and methods are clear errors', async () => {
  const w = await cacheWorkspace([10]);
  for (const [url, options, re] of [
    ['s3://bucket/prefix', {}, /local folder or an HTTP\(S\) \(osdf\) remote only/],
    ['ssh://host/dir', {}, /"cmf artifact push" or "dvc push"/],
    ['http://127.0.0.1:9/r', { method: 'POST' }, /uploads with POST; cmf-sage pushes with PUT only/],
  ] as const) {
    await assert.rejects(pushArtifacts({ workspace: w.ws, objects: [w.objects[0]!.md5], remote: { name: 'x', url, options }, logger: silentLogger() }), re);
  }
});

let nginx: NginxDav;
let proxy: FaultProxy;
before(async () => {
  if (skip) return;
  nginx = new NginxDav({ token: TOKEN, forbiddenToken: 'read-only-token' });
  await nginx.start();
  proxy = new FaultProxy(nginx.port);
  await proxy.start();
});
after(async () => {
  await proxy?.stop();
  await nginx?.stop();
});

const viaProxy = () => `http://127.0.0.1:${proxy.port}/remote`;
const remoteAt = (url: string) => ({ name: 'osdf', url, options: { method: 'PUT', auth: 'custom', custom_auth_header: 'Authorization' } });

test('nginx WebDAV remote: PUT with the Bearer token, md5 right on the server, second push only asks (HEAD)', { skip }, async () => {
  await nginx.clear();
  const w = await cacheWorkspace([0, 100, 70_000, 5 << 20, 2 << 20]);
  const before = (await nginx.accessLog()).length;
  const r1 = await pushArtifacts({ workspace: w.ws, objects: w.objects.map((o) => o.md5), remote: remoteAt(nginx.remoteUrl), token: TOKEN, logger: silentLogger() });
  assert.equal(r1.sent, 5);
  const stored = await nginx.storedObjects();
  assert.deepEqual(stored.map((s) => [s.name, s.md5]), w.objects.map((o) => [o.md5, o.md5]).sort((a, b) => a[0]!.localeCompare(b[0]!)));
  const r2 = await pushArtifacts({ workspace: w.ws, objects: w.objects.map((o) => o.md5), remote: remoteAt(nginx.remoteUrl), token: TOKEN, logger: silentLogger() });
  assert.deepEqual(r2, { sent: 0, skipped: 5, bytes: 0 });
  const log = (await nginx.accessLog()).slice(before);
  assert.equal(log.filter((l) => l.method === 'PUT').length, 5, 'each object PUT once');
  assert.equal(log.filter((l) => l.method === 'HEAD').length, 10);
  assert.ok(log.every((l) => l.status === 200 || l.status === 201 || l.status === 404), JSON.stringify(log));
});

test('nginx: a rejected token (401, 403) is one clear error, no retries, nothing stored', { skip }, async () => {
  await nginx.clear();
  const w = await cacheWorkspace([1000, 2000, 3000, 4000, 5000, 6000]);
  for (const [token, status] of [['wrong', 401], ['read-only-token', 403], [undefined, 401]] as const) {
    const before = (await nginx.accessLog()).length;
    await assert.rejects(
      pushArtifacts({ workspace: w.ws, objects: w.objects.map((o) => o.md5), remote: remoteAt(nginx.remoteUrl), token, concurrency: 2, logger: silentLogger(), backoff: FAST }),
      (e: unknown) => e instanceof UserError && e.exitCode === 77 && e.message.includes(`HTTP ${status}`) && (!token || !e.message.includes(token)),
    );
    const log = (await nginx.accessLog()).slice(before);
    assert.ok(log.length <= 2, `at most one request per connection, got ${log.length}`);
    assert.ok(log.every((l) => l.status === status));
  }
  assert.deepEqual(await nginx.storedObjects(), []);
});

test('nginx: a connection reset mid-upload is retried from the file; nothing partial, nothing lost', { skip }, async () => {
  await nginx.clear();
  const w = await cacheWorkspace([8 << 20, 6 << 20, 300]);
  proxy.armReset(1 << 20, 2);
  const r = await pushArtifacts({ workspace: w.ws, objects: w.objects.map((o) => o.md5), remote: remoteAt(viaProxy()), token: TOKEN, logger: silentLogger(), backoff: FAST });
  assert.equal(r.sent, 3);
  assert.equal(proxy.happened.filter((h) => h.startsWith('reset')).length, 2);
  const stored = await nginx.storedObjects();
  assert.equal(stored.length, 3);
  for (const s of stored) assert.equal(s.md5, s.name, `object ${s.name} is whole`);
});

test('nginx: a server slower than the no-progress timeout; the retry lands the same object once', { skip }, async () => {
  await nginx.clear();
  const w = await cacheWorkspace([1 << 20]);
  proxy.armHold(2500, 1);
  const t0 = Date.now();
  const r = await pushArtifacts({ workspace: w.ws, objects: [w.objects[0]!.md5], remote: remoteAt(viaProxy()), token: TOKEN, stallMs: 700, concurrency: 1, logger: silentLogger(), backoff: FAST });
  assert.equal(r.sent + r.skipped, 1);
  assert.ok(Date.now() - t0 < 2400, 'gave up on the held connection before its answer came');
  const stored = await nginx.storedObjects();
  assert.deepEqual(stored.map((s) => s.md5), [w.objects[0]!.md5]);
});

test('nginx: a damaged cache object (not marked verified) is never completed on the server', { skip }, async () => {
  await nginx.clear();
  const w = await cacheWorkspace([3 << 20], 0o644);
  const f = await fsp.open(w.objects[0]!.file, 'r+');
  await f.write(Buffer.from('bit rot'), 0, 7, 2 << 20);
  await f.close();
  await assert.rejects(
    pushArtifacts({ workspace: w.ws, objects: [w.objects[0]!.md5], remote: remoteAt(nginx.remoteUrl), token: TOKEN, logger: silentLogger(), backoff: FAST }),
    (e: unknown) => e instanceof UserError && /is damaged/.test(e.message),
  );
  assert.deepEqual(await nginx.storedObjects(), [], 'the short body was dropped by nginx');
});

test('nginx: a 2 GiB artifact is streamed (md5 checked on the way) with low memory', { skip, timeout: 240_000 }, async () => {
  await nginx.clear();
  const ws = await tempDir('server-2g-');
  const md5 = 'a981130cf2b7e09f4686dc273cf7187e'; // 2 GiB of zero bytes (field fault B06)
  const dir = path.join(ws, '.dvc', 'cache', 'files', 'md5', md5.slice(0, 2));
  await fsp.mkdir(dir, { recursive: true });
  await execFileP('truncate', ['-s', '2147483648', path.join(dir, md5.slice(2))]);
  try {
    const out = await runChild({ mode: 'artifacts', workspace: ws, objects: [md5], remote: remoteAt(nginx.remoteUrl), token: TOKEN, verify: 'always' });
    assert.equal(out.code, 0, out.stderr);
    const r = JSON.parse(out.stdout.trim());
    assert.equal(r.sent, 1);
    assert.equal(r.bytes, 2147483648);
    assert.ok(r.peakRssMb < 200, `peak RSS ${r.peakRssMb} MB`);
    const stored = await nginx.storedObjects();
    assert.deepEqual(stored, [{ name: md5, md5, size: 2147483648 }]);
  } finally {
    await nginx.clear();
    await fsp.rm(ws, { recursive: true, force: true });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { PywaggleSource } from '../src/sources/pywaggle.js';
import type { Measurement, ResultFile } from '../src/sources/observation.js';
import { captureLogger, copyFixture, tempDir } from './helpers.js';

test('the smokeynet fixture: 6 uploads and 3 measurements with exact times', async () => {
  const dir = await copyFixture('pywaggle-smokeynet/logdir', path.join(await tempDir(), 'logdir'));
  const { logger, records } = captureLogger();
  const src = new PywaggleSource(dir, logger);
  const { observations, cursor } = await src.read(undefined);
  const files = observations.filter((o): o is ResultFile => o.kind === 'file');
  const measures = observations.filter((o): o is Measurement => o.kind === 'measurement');
  assert.equal(files.length, 6);
  assert.equal(measures.length, 3);
  assert.equal(files[0].uploadKey, '1796312074950677949-sample_current.jpg');
  assert.equal(files[0].path, path.join(dir, 'uploads', '1796312074950677949-sample_current.jpg'));
  assert.equal(files[0].workspacePath, 'results/2026-12-03/1796312074950677949-sample_current.jpg');
  assert.equal(files[0].filename, 'sample_current.jpg');
  assert.deepEqual(files[0].meta, {});
  // tile_probs is stamped with the next frame's time: snapped exactly
  assert.equal(measures[0].name, 'env.smoke.tile_probs');
  assert.equal(measures[0].tsNs, 1796312075950677949n);
  assert.equal(measures[0].tsExact, true);
  assert.equal(measures[0].value.kind, 'string');
  assert.deepEqual(measures[0].meta, { camera: 'rtsp://camera-top:554/live' });
  assert.equal(records.filter((r) => r.level >= 40).length, 0);
  const again = await src.read(cursor);
  assert.equal(again.observations.length, 0);
});

test('the binary fixture: float certainty values stay doubles', async () => {
  const dir = await copyFixture('pywaggle-binary/logdir', path.join(await tempDir(), 'logdir'));
  const src = new PywaggleSource(dir, captureLogger().logger);
  const { observations } = await src.read(undefined);
  const m = observations.filter((o): o is Measurement => o.kind === 'measurement');
  assert.equal(m.length, 4);
  assert.deepEqual(m[0].value, { kind: 'double', value: 0.9416829310744944 });
  assert.equal(m[0].tsNs, 1796312080879783945n);
});

test('bad lines are logged with file and line and skipped; good lines go on (B14)', async () => {
  const dir = await tempDir();
  await fsp.mkdir(path.join(dir, 'uploads'));
  await fsp.writeFile(path.join(dir, 'uploads', '1796312080879783945-a b ü.jpg'), 'jpeg-bytes');
  const lines = [
    '{"meta":{"sensor":"bme280"},"name":"env.temperature","timestamp":"2024-09-20T17:03:12.345679901","value":23.5}',
    '{"meta":{},"name":"env.smoke.prob","timestamp":"2024-09-20T17:03:13.000000001","value":NaN}',
    '{"meta":{},"name":"env.count","timestamp":"2024-09-20T17:03:15.000000001","value":}',
    '{"meta":{"filename":"a b ü.jpg"},"name":"upload","timestamp":"2026-12-03T15:34:40.879784945","value":"/elsewhere/uploads/1796312080879783945-a b ü.jpg"}',
    '{"meta":{"filename":"gone.jpg"},"name":"upload","timestamp":"2026-12-03T15:34:41000","value":"/x/uploads/1796312081000000000-gone.jpg"}',
    '{"meta":{},"name":"env.whole","timestamp":"2026-12-03T15:34:41000","value":1.0}',
    '{"meta":{},"name":"env.int","timestamp":"2026-12-03T15:34:41000","value":7}',
    '{"meta":{},"name":"env.bad.ts","timestamp":"yesterday","value":7}',
    '[1,2]',
    '{"name":"upload","value":"/x/uploads/../../etc/passwd"}',
  ];
  await fsp.writeFile(path.join(dir, 'data.ndjson'), lines.join('\n') + '\n' + 'nul\u0000line\n');
  const { logger, records } = captureLogger();
  const { observations } = await new PywaggleSource(dir, logger).read(undefined);
  const names = observations.map((o) => (o.kind === 'file' ? `file:${o.filename}` : `m:${o.name}`));
  assert.deepEqual(names, ['m:env.temperature', 'm:env.smoke.prob', 'file:a b ü.jpg', 'm:env.whole', 'm:env.int']);
  const m = observations.filter((o): o is Measurement => o.kind === 'measurement');
  assert.deepEqual(m[1].value, { kind: 'string', value: 'NaN' });
  assert.deepEqual(m[2].value, { kind: 'double', value: 1 });
  assert.deepEqual(m[3].value, { kind: 'int', value: 7n });
  // the glued timestamp 15:34:41000 is exactly 15:34:41.000000000
  assert.equal(m[2].tsNs, 1796312081000000000n);
  const warned = records.filter((r) => r.level === 40).map((r) => r.line);
  assert.deepEqual(warned, [3, 5, 8, 9, 10, 11]);
  assert.ok(records.every((r) => r.level !== 40 || String(r.file).endsWith('data.ndjson')));
  assert.match(String(records.find((r) => r.line === 5)?.msg), /gone\.jpg is missing/);
});

test("the sidecar's own archives are not results", async () => {
  const dir = await tempDir();
  await fsp.mkdir(path.join(dir, 'uploads'));
  await fsp.writeFile(path.join(dir, 'uploads', '1796312080879783945-cmf_archive_x.tar.gz'), 'x');
  await fsp.writeFile(
    path.join(dir, 'data.ndjson'),
    '{"meta":{"filename":"cmf_archive_x.tar.gz"},"name":"upload","timestamp":"2026-12-03T15:34:40.879784945","value":"/p/uploads/1796312080879783945-cmf_archive_x.tar.gz"}\n',
  );
  const src = new PywaggleSource(dir, captureLogger().logger, (n) => n.startsWith('cmf_archive_'));
  assert.equal((await src.read(undefined)).observations.length, 0);
});

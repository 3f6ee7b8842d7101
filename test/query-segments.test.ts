import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { segmentMlmdFiles } from '../src/workspace/segments.js';
import { tempDir } from './helpers.js';

test('segmentMlmdFiles: [] without the folder; sorted mlmd files of complete segments only', async () => {
  const ws = await tempDir('segments-');
  assert.deepEqual(await segmentMlmdFiles(ws), []);
  assert.deepEqual(await segmentMlmdFiles(path.join(ws, 'missing')), []);
  const seg = path.join(ws, '.cmf-sage', 'segments');
  await fsp.mkdir(seg, { recursive: true });
  assert.deepEqual(await segmentMlmdFiles(ws), []);
  for (const id of ['0002', '0001', '0010']) {
    await fsp.mkdir(path.join(seg, id));
    await fsp.writeFile(path.join(seg, id, 'mlmd'), '');
  }
  await fsp.mkdir(path.join(seg, '0003')); // no mlmd yet
  await fsp.mkdir(path.join(seg, '.0004.tmp'));
  await fsp.writeFile(path.join(seg, '.0004.tmp', 'mlmd'), ''); // being written
  await fsp.mkdir(path.join(seg, '0005', 'mlmd'), { recursive: true }); // a folder, not a file
  assert.deepEqual(await segmentMlmdFiles(ws), ['0001', '0002', '0010'].map((id) => path.join(seg, id, 'mlmd')));
});

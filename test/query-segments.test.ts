import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { segmentMlmdFiles } from '../src/workspace/segments.js';
import { tempDir } from './helpers.js';

test('segmentMlmdFiles: [] without the folder; the mlmd of every sealed folder (even a damaged one), in sequence order', async () => {
  const ws = await tempDir('segments-');
  assert.deepEqual(await segmentMlmdFiles(ws), []);
  assert.deepEqual(await segmentMlmdFiles(path.join(ws, 'missing')), []);
  const seg = path.join(ws, '.cmf-sage', 'segments');
  await fsp.mkdir(seg, { recursive: true });
  assert.deepEqual(await segmentMlmdFiles(ws), []);
  for (const id of ['000002', '000001', '000010', '1000000']) {
    await fsp.mkdir(path.join(seg, id));
    await fsp.writeFile(path.join(seg, id, 'mlmd'), '');
  }
  await fsp.mkdir(path.join(seg, '000003')); // damaged: its mlmd is gone (opening it says so)
  await fsp.mkdir(path.join(seg, '.000004.tmp'));
  await fsp.writeFile(path.join(seg, '.000004.tmp', 'mlmd'), ''); // being written
  await fsp.mkdir(path.join(seg, 'notes'));
  await fsp.writeFile(path.join(seg, 'notes', 'mlmd'), ''); // not a segment's name
  await fsp.mkdir(path.join(seg, '000005', 'mlmd'), { recursive: true }); // damaged: a folder, not a file
  // 1000000 after 999999: numeric order, not text order
  assert.deepEqual(await segmentMlmdFiles(ws), ['000001', '000002', '000003', '000005', '000010', '1000000'].map((id) => path.join(seg, id, 'mlmd')));
});

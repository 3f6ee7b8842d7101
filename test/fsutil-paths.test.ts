import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { inside, realTarget } from '../src/fsutil/paths.js';
import { tempDir } from './helpers.js';

test('inside: the path below a folder, the folder itself as "", and nothing for siblings named like ".."', () => {
  assert.equal(inside('/ws', '/ws/mlmd'), 'mlmd');
  assert.equal(inside('/ws', '/ws'), '');
  assert.equal(inside('/ws', '/ws/a/../b'), 'b');
  assert.equal(inside('/ws', '/wsx/mlmd'), undefined);
  assert.equal(inside('/ws', '/other'), undefined);
  assert.equal(inside('/ws/a', '/ws/..b'), undefined);
  assert.equal(inside('/ws', '/ws/..b'), '..b', 'a name that starts with two dots is still inside');
});

test('realTarget: through links, a dangling one to the file it would create', async () => {
  const root = await fsp.realpath(await tempDir('paths-'));
  await fsp.writeFile(path.join(root, 'real'), 'x');
  await fsp.symlink('real', path.join(root, 'link'));
  await fsp.symlink('missing', path.join(root, 'dangling'));
  assert.equal(await realTarget(path.join(root, 'link')), path.join(root, 'real'));
  assert.equal(await realTarget(path.join(root, 'dangling')), path.join(root, 'missing'));
  assert.equal(await realTarget(path.join(root, 'new')), path.join(root, 'new'));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { parsePointer, renderPointer, writePointer } from '../src/dvc/index.js';

const FOO = 'acbd18db4cc2f85cedef654fccc4a4d8';

test('renderPointer matches `dvc add foo` byte for byte (tests/func/test_add.py::test_add)', () => {
  assert.equal(
    renderPointer({ md5: FOO, size: 3, path: 'foo' }),
    'outs:\n- md5: acbd18db4cc2f85cedef654fccc4a4d8\n  size: 3\n  hash: md5\n  path: foo\n',
  );
});

test('an executable file gets isexec: true after size (test_add_executable); false writes nothing', () => {
  assert.equal(
    renderPointer({ md5: FOO, size: 3, path: 'foo', isexec: true }),
    'outs:\n- md5: acbd18db4cc2f85cedef654fccc4a4d8\n  size: 3\n  isexec: true\n  hash: md5\n  path: foo\n',
  );
  assert.equal(renderPointer({ md5: FOO, size: 3, path: 'foo', isexec: false }), renderPointer({ md5: FOO, size: 3, path: 'foo' }));
});

test('an all-digit md5 (and a 1e5-like one) is quoted and read back as the same string', () => {
  for (const md5 of ['00000000000000000000000000000000', '12345678901234567890123456789012', '1234567890123456789012345678e901']) {
    const text = renderPointer({ md5, size: 0, path: 'x' });
    assert.ok(text.includes(`- md5: "${md5}"\n`), text);
    assert.equal(parsePointer(text).md5, md5);
    // Any YAML reader, 1.2 or 1.1, must see the same string.
    assert.equal(YAML.parse(text).outs[0].md5, md5);
    assert.equal(YAML.parse(text, { version: '1.1' }).outs[0].md5, md5);
  }
});

test('awkward file names round-trip through a real YAML parser', () => {
  const names = [
    'frame 0001.jpg', 'día de muestra ü 😀.png', "it's.txt", 'say "hi".txt', `both '"'.txt`, 'a: b.txt', '#hash.txt',
    'x #y.txt', '-dash.txt', '- dash', '? q', 'yes', 'no', 'on', 'null', '~', '123', '1e5', '0o17', '0b101', '12:30',
    '2024-01-01', 'trailing ', ' leading', 'tab\there', 'line\nbreak', '[brackets]', '{braces}', '*star', '&amp', '!bang',
    '%pct', '@at', '`tick', '|pipe', '>gt', 'comma,name', 'back\\slash', 'a'.repeat(300) + ' long name',
  ];
  for (const name of names) {
    const text = renderPointer({ md5: FOO, size: 7, path: name });
    assert.equal(YAML.parse(text).outs[0].path, name, `yaml 1.2 reading ${JSON.stringify(name)}`);
    assert.equal(YAML.parse(text, { version: '1.1' }).outs[0].path, name, `yaml 1.1 reading ${JSON.stringify(name)}`);
    assert.deepEqual(parsePointer(text), { md5: FOO, size: 7, path: name, hashName: 'md5' });
    assert.equal(text.split('\n').length, 6, `one line per key for ${JSON.stringify(name)}`);
  }
  // Plain where YAML allows it, like DVC.
  assert.ok(renderPointer({ md5: FOO, size: 1, path: 'frame 0001.jpg' }).endsWith('  path: frame 0001.jpg\n'));
  assert.ok(renderPointer({ md5: FOO, size: 1, path: 'día.png' }).endsWith('  path: día.png\n'));
});

test('parsePointer reads DVC 3 files, ruamel single quotes, 2.x files and unquoted digits', () => {
  assert.deepEqual(parsePointer('outs:\n- md5: acbd18db4cc2f85cedef654fccc4a4d8\n  size: 3\n  hash: md5\n  path: foo\n'), {
    md5: FOO, size: 3, path: 'foo', hashName: 'md5',
  });
  assert.deepEqual(parsePointer("outs:\n- md5: '00000000000000000000000000000000'\n  size: 0\n  hash: md5\n  path: 'a: b'\n"), {
    md5: '00000000000000000000000000000000', size: 0, path: 'a: b', hashName: 'md5',
  });
  // DVC 2.x: no hash key -> md5-dos2unix (legacy cache layout).
  assert.deepEqual(parsePointer('outs:\n- md5: acbd18db4cc2f85cedef654fccc4a4d8\n  size: 3\n  path: foo\n'), {
    md5: FOO, size: 3, path: 'foo', hashName: 'md5-dos2unix',
  });
  // Hand-edited, unquoted all-digit md5 must not turn into a lossy number.
  assert.equal(parsePointer('outs:\n- md5: 12345678901234567890123456789012\n  path: x\n').md5, '12345678901234567890123456789012');
  assert.equal(parsePointer('outs:\n- md5: 12345678901234567890123456789012\n  path: x\n').size, undefined);
  assert.equal(parsePointer(renderPointer({ md5: FOO, size: 3, path: 'foo', isexec: true })).isexec, true);
  // Extra keys DVC may add (desc, remote, ...) do not get in the way.
  assert.equal(parsePointer(`outs:\n- md5: ${FOO}\n  size: 3\n  hash: md5\n  path: foo\n  desc: a frame\n  remote: minio\n`).path, 'foo');
});

test('parsePointer rejects anything that is not a one-output file pointer, with a clear message', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /expected a mapping/],
    ['outs: [\n', /not a valid \.dvc file/],
    ['- a\n- b\n', /expected a mapping/],
    ['md5: x\n', /exactly one entry, found none/],
    [`outs:\n- md5: ${FOO}\n  path: a\n- md5: ${FOO}\n  path: b\n`, /exactly one entry, found 2/],
    [`outs:\n- md5: ${FOO}\n`, /no `path`/],
    ['outs:\n- path: a\n  etag: abc\n', /no md5/],
    ['outs:\n- md5: 5ea40360f5b4ec688df672a4db9c17d1.dir\n  size: 6\n  nfiles: 2\n  hash: md5\n  path: data\n', /directory outputs/],
    ['outs:\n- md5: nothex\n  path: a\n', /not 32 hex digits/],
    [`outs:\n- md5: ${FOO}\n  size: -1\n  path: a\n`, /size .* not a whole number/],
    [`outs:\n- md5: ${FOO}\n  hash: sha256\n  path: a\n`, /unsupported hash/],
  ];
  for (const [text, re] of bad) assert.throws(() => parsePointer(text), re, JSON.stringify(text));
});

test('renderPointer refuses bad input', () => {
  assert.throws(() => renderPointer({ md5: 'ACBD18DB4CC2F85CEDEF654FCCC4A4D8', size: 3, path: 'foo' }), /32 lowercase hex/);
  assert.throws(() => renderPointer({ md5: FOO, size: 1.5, path: 'foo' }), /non-negative integer/);
  assert.throws(() => renderPointer({ md5: FOO, size: 3, path: '' }), /path must not be empty/);
});

test('writePointer writes the file atomically and leaves no temp file', async (t) => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dvc-pointer-'));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'foo.dvc');
  await writePointer(file, { md5: FOO, size: 3, path: 'foo' });
  await writePointer(file, { md5: FOO, size: 3, path: 'foo' }, { fsync: false });
  assert.equal(await fsp.readFile(file, 'utf8'), 'outs:\n- md5: acbd18db4cc2f85cedef654fccc4a4d8\n  size: 3\n  hash: md5\n  path: foo\n');
  assert.deepEqual(await fsp.readdir(dir), ['foo.dvc']);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readNewLines } from '../src/sources/line-tail.js';

async function tmpFile(): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tail-'));
  return path.join(dir, 'data.ndjson');
}
const text = (r: { lines: { bytes: Buffer }[] }) => r.lines.map((l) => l.bytes.toString());

test('complete lines only; a partial line waits for its newline', async () => {
  const f = await tmpFile();
  await fsp.writeFile(f, 'L1\nL2\n{"par');
  const a = (await readNewLines(f, undefined))!;
  assert.deepEqual(text(a), ['L1', 'L2']);
  assert.equal(a.cursor.offset, 6);
  await fsp.appendFile(f, 'tial"}\nL4\n');
  const b = (await readNewLines(f, a.cursor))!;
  assert.deepEqual(text(b), ['{"partial"}', 'L4']);
  assert.deepEqual(b.lines.map((l) => l.line), [3, 4]);
  const c = (await readNewLines(f, b.cursor))!;
  assert.equal(c.lines.length, 0);
});

test('truncation is detected and the file is read from the start', async () => {
  const f = await tmpFile();
  await fsp.writeFile(f, 'first line is long\nsecond\n');
  const a = (await readNewLines(f, undefined))!;
  await fsp.writeFile(f, 'new\n'); // `: > file` then a shorter line
  const b = (await readNewLines(f, a.cursor))!;
  assert.equal(b.reset, true);
  assert.deepEqual(text(b), ['new']);
});

test('a re-created file (new inode) with a stale fragment is read afresh', async () => {
  const f = await tmpFile();
  await fsp.writeFile(f, 'aaaa\n{"meta":{},"na');
  const a = (await readNewLines(f, undefined))!;
  await fsp.rm(f);
  await fsp.writeFile(f, 'bbbb\nL7 longer than before\n');
  const b = (await readNewLines(f, a.cursor))!;
  assert.equal(b.reset, true);
  assert.deepEqual(text(b), ['bbbb', 'L7 longer than before']);
  assert.ok(!text(b).some((l) => l.includes('"na')));
});

test('same size, different first line: rotation detected by the head hash', async () => {
  const f = await tmpFile();
  await fsp.writeFile(f, 'one\ntwo\n');
  const a = (await readNewLines(f, undefined))!;
  await fsp.writeFile(f, 'uno\ndos\nthree\n'); // rewritten in place: same inode, longer
  const b = (await readNewLines(f, a.cursor))!;
  assert.equal(b.reset, true);
  assert.deepEqual(text(b), ['uno', 'dos', 'three']);
});

test('lines over the limit are skipped and counted, later lines still read', async () => {
  const f = await tmpFile();
  await fsp.writeFile(f, 'ok1\n' + 'x'.repeat(3 << 20) + '\nok2\n');
  const r = (await readNewLines(f, undefined, { maxLineBytes: 1 << 20 }))!;
  assert.deepEqual(text(r), ['ok1', 'ok2']);
  assert.deepEqual(r.skippedLong, [2]);
  assert.deepEqual(r.lines.map((l) => l.line), [1, 3]);
});

test('missing file reads as nothing', async () => {
  const f = await tmpFile();
  assert.equal(await readNewLines(f, undefined), undefined);
});

test('deleted and re-created with the same first line and size: still detected', async () => {
  const f = await tmpFile();
  const line = (ts: string) => `{"meta":{"filename":"frame.jpg"},"name":"upload","value":"/x/uploads/${ts}-frame.jpg"}\n`;
  await fsp.writeFile(f, line('1796312200000000000'));
  const a = (await readNewLines(f, undefined))!;
  await fsp.rm(f);
  await fsp.writeFile(f, line('1796312300000000000')); // same length, same first 64 bytes, maybe the same inode
  const b = (await readNewLines(f, a.cursor))!;
  assert.equal(b.reset, true);
  assert.deepEqual(text(b), [line('1796312300000000000').trimEnd()]);
});

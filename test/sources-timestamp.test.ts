import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUploadName, parseWallClockNs, TimestampResolver, isoFromNs } from '../src/sources/timestamp.js';

test('upload names give the exact ns and the original name', () => {
  assert.deepEqual(parseUploadName('1796312080879783945-sample.jpg'), { ts: 1796312080879783945n, filename: 'sample.jpg' });
  assert.deepEqual(parseUploadName('1796312080879783945-a-b c.jpg'), { ts: 1796312080879783945n, filename: 'a-b c.jpg' });
  assert.equal(parseUploadName('sample.jpg'), undefined);
  assert.equal(parseUploadName('12-sample.jpg'), undefined);
  assert.equal(parseUploadName('100000000000000000-too-early.jpg'), undefined); // before MIN_TIMESTAMP_NS
});

test("pywaggle's timestamp strings, including the glued form without a fraction", () => {
  assert.equal(parseWallClockNs('2026-12-03T15:34:40.879784945'), 1796312080879784945n);
  assert.equal(parseWallClockNs('2026-12-03T15:34:40000'), 1796312080000000000n);
  assert.equal(parseWallClockNs('2026-12-03T15:34:40123'), 1796312080000000123n);
  assert.equal(parseWallClockNs('2026-12-03 15:34:40'), undefined);
  assert.equal(parseWallClockNs('2026-02-30T15:34:40000'), undefined);
});

test('measurement times snap to the exact upload time (fixture values)', () => {
  const r = new TimestampResolver();
  // smokeynet fixture: the string's microseconds differ from the name by one
  r.learnUpload(1796312075950677949n, '2026-12-03T15:34:35.950678949');
  assert.deepEqual(r.resolve('2026-12-03T15:34:35.950678949'), { ns: 1796312075950677949n, exact: true });
  // no upload nearby: best estimate, marked inexact
  const other = r.resolve('2026-12-03T15:40:00.000001123');
  assert.deepEqual(other, { ns: 1796312400000001123n, exact: false });
});

test('a local-time log is converted with the offset learned from uploads', () => {
  const r = new TimestampResolver();
  // the same instant written in UTC-05:00 (CDT-like) wall-clock time
  r.learnUpload(1796312080879783945n, '2026-12-03T10:34:40.879784945');
  assert.deepEqual(r.resolve('2026-12-03T10:34:40.879784945'), { ns: 1796312080879783945n, exact: true });
  assert.deepEqual(r.resolve('2026-12-03T10:35:00.000000001'), { ns: 1796312100000000001n, exact: false });
});

test('isoFromNs keeps nanoseconds', () => {
  assert.equal(isoFromNs(1796312080879783945n), '2026-12-03T15:34:40.879783945Z');
});

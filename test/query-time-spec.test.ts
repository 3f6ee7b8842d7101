import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTimeSpec, TimeSpecError } from '../src/query/time-spec.js';

const NOW = 1796312080879783945n; // 2026-12-03T15:34:40.879783945Z
const S = 1_000_000_000n;

test('ISO 8601: zone, no zone (= UTC), fractions to the nanosecond, date only', () => {
  assert.equal(parseTimeSpec('2026-12-03T15:34:40.879783945Z', NOW), 1796312080879783945n);
  assert.equal(parseTimeSpec('2026-12-03T15:34:40.879783945', NOW), 1796312080879783945n);
  assert.equal(parseTimeSpec('2026-12-03 15:34:40.879783945', NOW), 1796312080879783945n);
  assert.equal(parseTimeSpec('2026-12-03T17:34:40.879783945+02:00', NOW), 1796312080879783945n);
  assert.equal(parseTimeSpec('2026-12-03T10:04:40.879783945-0530', NOW), 1796312080879783945n);
  assert.equal(parseTimeSpec('2026-12-03T15:34:40.5Z', NOW), 1796312080500000000n);
  assert.equal(parseTimeSpec('2026-12-03T15:34Z', NOW), 1796312040000000000n);
  assert.equal(parseTimeSpec('2026-12-03', NOW), 1796256000000000000n);
  assert.equal(parseTimeSpec('2026-12-03t15:34:40.879783945z', NOW), 1796312080879783945n); // RFC 3339 allows lower case
  assert.equal(parseTimeSpec('1970-01-01T00:00:00Z', NOW), 0n);
});

test('ISO 8601 reduced precision: a year or a year and month is its first instant (UTC), not epoch ns', () => {
  assert.equal(parseTimeSpec('2026', NOW), BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n);
  assert.equal(parseTimeSpec('2026-12', NOW), BigInt(Date.UTC(2026, 11, 1)) * 1_000_000n);
  assert.equal(parseTimeSpec('1970', NOW), 0n);
  assert.throws(() => parseTimeSpec('2026-13', NOW), /not a valid date/);
});

test('integers that are not epoch nanoseconds (seconds, ms) and times outside 1970..int64 are refused', () => {
  assert.throws(() => parseTimeSpec('1796312077', NOW), /"1796312077" is too short for epoch nanoseconds \(19 digits.*\); for epoch seconds write 1796312077000000000$/);
  assert.throws(() => parseTimeSpec('1796312077000', NOW), /; for epoch milliseconds write 1796312077000000000$/);
  assert.throws(() => parseTimeSpec('1796312077000000', NOW), /; for epoch microseconds write 1796312077000000000$/);
  for (const bad of ['12', '20261']) assert.throws(() => parseTimeSpec(bad, NOW), /too short for epoch nanoseconds \(19 digits, e\.g\. \d+\)$/, bad);
  assert.throws(() => parseTimeSpec('99999999999999999999999', NOW), /beyond the 64-bit nanosecond range/);
  assert.equal(parseTimeSpec('9223372036854775807', NOW), (1n << 63n) - 1n);
  assert.throws(() => parseTimeSpec('-99999999d', NOW), /before 1970/);
  assert.throws(() => parseTimeSpec('1969-12-31', NOW), /before 1970/);
});

test('a bare integer is epoch nanoseconds, kept exact beyond 2^53', () => {
  assert.equal(parseTimeSpec('1796312080879783945', NOW), 1796312080879783945n);
  assert.equal(parseTimeSpec(' 0 ', NOW), 0n);
});

test('relative times count back from now, as the Sage data API does', () => {
  assert.equal(parseTimeSpec('-30s', NOW), NOW - 30n * S);
  assert.equal(parseTimeSpec('-15m', NOW), NOW - 15n * 60n * S);
  assert.equal(parseTimeSpec('-2h', NOW), NOW - 2n * 3600n * S);
  assert.equal(parseTimeSpec('-7d', NOW), NOW - 7n * 86400n * S);
  assert.equal(parseTimeSpec('-1.5h', NOW), NOW - 5400n * S);
  assert.equal(parseTimeSpec('-1w', NOW), NOW - 7n * 86400n * S);
});

test('anything else is refused with a message naming the accepted forms', () => {
  for (const bad of ['', 'yesterday', '-2y', '2h', '2026-13-01', '2026-02-30T00:00:00Z', '2026-12-03T25:00:00Z', '12:00', '-h']) {
    assert.throws(() => parseTimeSpec(bad, NOW), (err: unknown) => {
      assert.ok(err instanceof TimeSpecError, `${bad}: ${String(err)}`);
      return true;
    });
  }
  assert.throws(() => parseTimeSpec('soon', NOW), /ISO 8601.*epoch nanoseconds.*-2h/);
});

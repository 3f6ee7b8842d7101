import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUploadName, parseWallClockNs, pywaggleWallClockNs, TimestampResolver, isoFromNs } from '../src/sources/timestamp.js';
import { execFileP } from './helpers.js';

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
  // no upload nearby: pywaggle's rounding redone gives the exact time, rounded down or up
  assert.deepEqual(r.resolve('2026-12-03T15:40:00.000001123'), { ns: 1796312400000001123n, exact: true });
  assert.deepEqual(r.resolve('2026-12-03T15:34:40.879784945'), { ns: 1796312080879783945n, exact: true });
});

/** pywaggle's data.ndjson timestamp for each ns, written by Python itself in time zone `tz`. */
async function pywaggleStrings(tz: string, ns: bigint[]): Promise<string[]> {
  const { stdout } = await execFileP(
    'python3',
    ['-c', 'import sys, datetime\nfor a in sys.argv[1:]:\n    ns = int(a)\n    print(datetime.datetime.fromtimestamp(ns/1e9).isoformat() + f"{ns%1000:03d}")', ...ns.map(String)],
    { env: { ...process.env, TZ: tz }, maxBuffer: 64 << 20 },
  );
  return String(stdout).trim().split('\n');
}

test("standalone measurement times: exact unless two times print the same, checked on Python's own strings for 2,000 times", async () => {
  let seed = 12345n;
  const next = () => (seed = (seed * 6364136223846793005n + 1442695040888963407n) % (1n << 64n));
  const times: bigint[] = [];
  for (let i = 0; i < 2000; i++) {
    const base = 1796312080000000000n + (next() % 86_400_000_000_000n);
    // half of them: the ns digits within ±150 of half a microsecond, where a double's rounding decides
    times.push(i % 2 ? base : base - (base % 1000n) + 350n + (next() % 300n));
  }
  times.push(1796312080000000000n, 1796312080000000999n, 1796312080999999500n, 1796312080999999499n); // no fraction; a carry into the next second
  for (const [tz, offset] of [['UTC', 0n], ['America/Chicago', -6n * 3600n * 1_000_000_000n]] as const) {
    // each time and its neighbours one microsecond away, as pywaggle prints them
    const strings = await pywaggleStrings(tz, times.flatMap((ns) => [ns, ns - 1000n, ns + 1000n]));
    const r = new TimestampResolver();
    // an upload line teaches the wall-clock offset (far from the times below, so nothing snaps)
    const upload = 1796200000000000000n;
    r.learnUpload(upload, (await pywaggleStrings(tz, [upload]))[0]!);
    let exact = 0;
    times.forEach((ns, i) => {
      const [own, below, above] = strings.slice(3 * i, 3 * i + 3);
      const label = `${tz} ${ns} ${own}`;
      assert.equal(pywaggleWallClockNs(ns, offset), parseWallClockNs(own!), label);
      const got = r.resolve(own!)!;
      const twin = below === own ? ns - 1000n : above === own ? ns + 1000n : undefined;
      if (twin === undefined) {
        assert.deepEqual(got, { ns, exact: true }, label);
        exact++;
      } else {
        assert.equal(got.exact, false, label);
        assert.ok(got.ns === ns || got.ns === twin, label);
      }
    });
    assert.ok(exact > 0.7 * times.length, `${tz}: ${exact} of ${times.length} exact (half of them chosen near the edge)`);
  }
});

test('a local-time log is converted with the offset learned from uploads', () => {
  const r = new TimestampResolver();
  // the same instant written in UTC-05:00 (CDT-like) wall-clock time
  r.learnUpload(1796312080879783945n, '2026-12-03T10:34:40.879784945');
  assert.deepEqual(r.resolve('2026-12-03T10:34:40.879784945'), { ns: 1796312080879783945n, exact: true });
  assert.deepEqual(r.resolve('2026-12-03T10:35:00.000000001'), { ns: 1796312100000000001n, exact: true });
});

test('isoFromNs keeps nanoseconds', () => {
  assert.equal(isoFromNs(1796312080879783945n), '2026-12-03T15:34:40.879783945Z');
});

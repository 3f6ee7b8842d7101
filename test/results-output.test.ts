import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonRenderer, resultsJson } from '../src/query/results-output.js';
import { TextRows, type RenderedRows } from '../src/query/text-rows.js';
import { TimeOrder } from '../src/query/time-order.js';
import type { ResultRow } from '../src/query/results.js';
import { isoFromNs } from '../src/sources/timestamp.js';

function row(over: Partial<ResultRow>): ResultRow {
  return {
    kind: 'result',
    timestampNs: 1796312080879783945n,
    name: 'frame.jpg',
    value: null,
    key: '1796312080879783945-frame.jpg',
    md5: '50516b89ab16f71559425e67f59d6199',
    sha1: 'a9dd85c7b4b879ca42b25d0db374b71daf255571',
    path: 'results/2026-12-04/1796312080879783945-frame.jpg',
    executionUuid: '9a20e120-efd3-11f1-8010-f99de0e55d1f',
    modelMd5: 'ce52fbc7650da8ee4f8d82a1c2554810',
    file: 'segment 000068',
    missing: [],
    ...over,
  };
}

/** What JSON.stringify makes of the row, in the documented column order: the reference for the hand-built text. */
function reference(r: ResultRow): string {
  return JSON.stringify({
    kind: r.kind,
    timestamp_ns: r.timestampNs.toString(),
    time: isoFromNs(r.timestampNs),
    name: r.name,
    value: r.value === null ? null : r.value.kind === 'int' ? Number(r.value.value) : r.value.value,
    value_type: r.value?.kind ?? null,
    key: r.key,
    md5: r.md5,
    sha1: r.sha1,
    path: r.path,
    execution_uuid: r.executionUuid,
    model_md5: r.modelMd5,
    source: r.file,
    missing: r.missing,
  });
}

test('a JSON row is exactly what JSON.stringify writes, for awkward names and across seconds', () => {
  const awkward = ['quote " inside.jpg', 'back\\slash.jpg', 'new\nline.jpg', 'tab\there', 'ünïcødé 🔥.jpg', 'del\u007f.jpg', 'lone \ud800 surrogate', '', '</script>'];
  const rows: ResultRow[] = [
    row({}),
    ...awkward.map((name, i) => row({ name, key: `${1796312080879783945n + BigInt(i)}-${name}`, path: `results/${name}`, timestampNs: 1796312080879783945n + BigInt(i) })),
    // the next second, an exact second, the first second of the epoch and before it
    row({ timestampNs: 1796312081000000000n }),
    // the same execution read from another file, then with a field missing: each its own row end
    row({ file: 'segment 000069' }),
    row({ file: 'segment 000069', missing: ['sha1'], sha1: null }),
    row({ timestampNs: 1796312081000000001n }),
    row({ timestampNs: 1_000_000_000n }),
    row({ timestampNs: 999_999_999n }),
    row({ timestampNs: 0n }),
    row({ kind: 'measurement', name: 'env.smoke.certainty', value: { kind: 'double', value: 1 }, md5: null, sha1: null, path: null, key: 'env.smoke.certainty@1' }),
    row({ kind: 'measurement', name: 'env.count', value: { kind: 'int', value: 42n }, missing: ['timestamp_ns', 'measurement'] }),
    row({ kind: 'measurement', name: 'env.label', value: { kind: 'string', value: 'smoke "heavy"' }, modelMd5: null }),
  ];
  const json = new JsonRenderer();
  const lines = rows.map(json.render);
  lines.forEach((line, i) => assert.equal(line, reference(rows[i]!), `row ${i}`));
  assert.deepEqual(json.counts, { results: rows.length - 3, measurements: 3 });
  const kept = json.rows();
  for (const r of rows) kept.add(r);
  const text = Buffer.concat([...resultsJson(kept.finish(null), json.counts, { models: null, filter: {} })].map((c) => Buffer.from(c))).toString();
  const doc = JSON.parse(text);
  assert.equal(doc.count, rows.length);
  assert.deepEqual(doc.rows.map((r: { name: string }) => r.name), rows.map((r) => r.name));
  // one row per line, as documented
  assert.deepEqual(text.split('\n').slice(1, -2), lines.map((l, i) => (i < lines.length - 1 ? `${l},` : l)));
});

const bytesOf = (rows: RenderedRows) => Buffer.concat([...rows.buffers()]).toString();

test('kept rows come back in the given order, across buffers, with a row larger than a buffer and multi-byte text', () => {
  // ~3 MiB of rows: several 1 MiB buffers; one row of 1.5 MiB; names of 2-, 3- and 4-byte UTF-8
  const texts = Array.from({ length: 6000 }, (_, i) => `row ${i} ${'ü€🔥'.repeat(i % 7)} ${'x'.repeat(400)}`);
  texts[2500] = `big ${'y'.repeat(1_500_000)}`;
  const rows = texts.map((t) => row({ name: t }));
  const keep = () => {
    const kept = new TextRows((r) => r.name, '|');
    for (const r of rows) kept.add(r);
    return kept;
  };
  assert.equal(bytesOf(keep().finish(null)), texts.join('|'));
  const reversed = Uint32Array.from(texts.keys()).reverse();
  const out = keep().finish(reversed);
  assert.equal(out.count, texts.length);
  assert.equal(bytesOf(out), texts.slice().reverse().join('|'));
  for (const b of out.buffers()) assert.ok(b.length <= Math.max(1 << 20, 1_500_005), 'pieces of at most a MiB, or the one row larger than that');
  assert.ok([...out.buffers()].length >= 3, 'in pieces, not one buffer');
  // runs of neighbouring rows (as a file's rows come) are copied as one piece: same bytes
  const runs = Uint32Array.from([...Array(3000).keys()].map((i) => i + 3000).concat([...Array(3000).keys()]));
  assert.equal(bytesOf(keep().finish(runs)), [...texts.slice(3000), ...texts.slice(0, 3000)].join('|'));
  // nothing kept: nothing written (no separator either)
  assert.equal(bytesOf(new TextRows((r) => r.name, ',\n').finish(null)), '');
});

test('time order: exact ns beyond a double\'s precision, equal times in reading order, null when already in order', () => {
  const t = new TimeOrder();
  // 1796312080879783945 and ...946 are the same double: only the exact value orders them
  for (const ns of [1796312080879783946n, 1796312080879783945n, 5n, 1796312080879783945n, 5n]) t.push(ns);
  assert.deepEqual([...t.order()!], [2, 4, 1, 3, 0]);
  const sorted = new TimeOrder();
  for (let i = 0; i < 5000; i++) sorted.push(1796312080879783945n + BigInt(i >> 1)); // grows past its first arrays; equal pairs
  assert.equal(sorted.length, 5000);
  assert.equal(sorted.order(), null);
  sorted.push(0n);
  assert.equal(sorted.order()![0], 5000);
});

test('time order equals a stable sort, for runs that overlap, do not overlap, or come reversed', () => {
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const base = 1796312080879783945n;
  const shapes: Record<string, () => bigint[]> = {
    'random with ties': () => Array.from({ length: 2000 }, () => base + BigInt(rand(300))),
    'newest file first': () => [...Array.from({ length: 500 }, (_, i) => base + 10_000n + BigInt(i)), ...Array.from({ length: 1500 }, (_, i) => base + BigInt(i))],
    'files in order, each two interleaved runs': () =>
      Array.from({ length: 6 }, (_, f) => [...Array(50).keys()].map((i) => base + BigInt(f * 1000 + 2 * i)).concat([...Array(50).keys()].map((i) => base + BigInt(f * 1000 + 2 * i + 1)))).flat(),
    'descending': () => Array.from({ length: 999 }, (_, i) => base - BigInt(i >> 2)),
    'one below a double\'s precision': () => [base + 1n, base, base + 1n, base],
  };
  for (const [name, make] of Object.entries(shapes)) {
    const times = make();
    const t = new TimeOrder();
    for (const ns of times) t.push(ns);
    const expected = [...times.keys()].sort((a, b) => (times[a]! < times[b]! ? -1 : times[a]! > times[b]! ? 1 : a - b));
    const got = t.order();
    assert.ok(got, `${name}: out of order, so an order is needed`);
    assert.deepEqual([...got], expected, name);
  }
});

test('printable: control characters and bidirectional overrides become visible escapes; other text is kept', async () => {
  const { printable } = await import('../src/util/printable.js');
  assert.equal(printable('frame.jpg'), 'frame.jpg');
  assert.equal(printable('a\nb\tc\rd'), 'a\\nb\\tc\\rd');
  assert.equal(printable('\u001b[2Jgone'), '\\u001b[2Jgone');
  assert.equal(printable('evil\u202egpj.exe'), 'evil\\u202egpj.exe');
  assert.equal(printable('\u007f\u0085'), '\\u007f\\u0085');
  assert.equal(printable('ünïcødé 🔥'), 'ünïcødé 🔥');
});

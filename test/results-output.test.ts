import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonRenderer, resultsJson } from '../src/query/results-output.js';
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
  const doc = JSON.parse([...resultsJson(lines, json.counts, { models: null, filter: {} })].join(''));
  assert.equal(doc.count, rows.length);
  assert.deepEqual(doc.rows.map((r: { name: string }) => r.name), rows.map((r) => r.name));
});

// models / results / lineage / graph on workspaces recorded by the real CLI,
// one of them with the model changed twice while watching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { CLI, copyFixture, execFileP, python, runCli, sqlite } from './helpers.js';

import { AWKWARD, MULTILINE, T_V2, T_V3, V1, recordModelChangedTwice, segmentedWorkspace, workspace } from './query-workspaces.js';

const md5 = async (f: string) => createHash('md5').update(await fsp.readFile(f)).digest('hex');

async function cli(args: string[]) {
  const r = await runCli(args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const json = async (args: string[]) => JSON.parse(await cli([...args, '--json']));

interface Row {
  kind: string;
  timestamp_ns: string;
  time: string;
  name: string;
  value: unknown;
  key: string | null;
  md5: string | null;
  sha1: string | null;
  execution_uuid: string;
  model_md5: string | null;
  missing: string[];
}

test('models: three versions, newest first, with first/last use and counts', async () => {
  const w = await workspace();
  const out = await json(['models', '--workspace', w.ws]);
  assert.deepEqual(
    out.models.map((m: Record<string, unknown>) => [m.md5, m.path, m.executions, m.results, m.metrics, m.latest, m.previous]),
    [
      [w.v3, 'models/model.bin', 1, 2, 2, true, false],
      [w.v2, 'models/model.bin', 1, 1, 0, false, true],
      [w.v1, 'models/model.bin', 1, 6, 3, false, false],
    ],
  );
  for (const m of out.models) {
    assert.match(m.first_used, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    assert.ok(BigInt(m.first_used_ns) <= BigInt(m.last_used_ns));
  }
  assert.ok(BigInt(out.models[0].first_used_ns) > BigInt(out.models[1].last_used_ns), 'v3 was loaded after v2');
  const table = await cli(['models', '--workspace', w.ws]);
  const lines = table.trim().split('\n');
  assert.match(lines[0], /^md5 +path +first used \(UTC\) +last used \(UTC\) +executions +results +metrics/);
  assert.match(lines[1], new RegExp(`^${w.v3} +models/model.bin .* 1 +2 +2 +latest$`));
  assert.equal(lines[1].indexOf('models/'), lines[3].indexOf('models/'), 'columns are aligned');
});

test('results: every result attributed to the version loaded when it was produced', async () => {
  const w = await workspace();
  const all = await json(['results', '--workspace', w.ws]);
  const byModel = new Map<string, Row[]>();
  for (const r of all.rows as Row[]) byModel.set(r.model_md5!, [...(byModel.get(r.model_md5!) ?? []), r]);
  assert.deepEqual([...byModel.keys()].sort(), [w.v1, w.v2, w.v3].sort());
  // v1 ran the fixture's run log: everything up to 15:34:39; v2 one upload; v3 the last batch
  for (const r of byModel.get(w.v1)!) assert.ok(BigInt(r.timestamp_ns) < 1796312080000000000n, r.key ?? '');
  assert.deepEqual(byModel.get(w.v2)!.map((r) => r.timestamp_ns), [T_V2]);
  assert.deepEqual(new Set(byModel.get(w.v3)!.map((r) => r.timestamp_ns)), new Set([T_V3]));
  assert.equal(all.count, 14);
  assert.deepEqual(all.counts, { results: 9, measurements: 5 });
  // oldest first, exact to the ns
  const ts = (all.rows as Row[]).map((r) => BigInt(r.timestamp_ns));
  assert.deepEqual(ts, [...ts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  assert.equal(all.rows[0].timestamp_ns, '1796312074950677949');
  assert.equal(all.rows[0].time, '2026-12-03T15:34:34.950677949Z');
  assert.equal(all.rows[0].key, '1796312074950677949-sample_current.jpg');
  assert.equal(all.rows[0].md5, await md5(path.join(w.logdir, 'uploads', '1796312074950677949-sample_current.jpg')));
  assert.equal(all.rows[0].sha1, createHash('sha1').update(await fsp.readFile(path.join(w.logdir, 'uploads', '1796312074950677949-sample_current.jpg'))).digest('hex'));
});

test('results --model latest / previous / md5 prefix / path', async () => {
  const w = await workspace();
  const latest = await json(['results', '--workspace', w.ws, '--model', 'latest']);
  assert.deepEqual(latest.models, [{ md5: w.v3, path: 'models/model.bin' }]);
  const rows = latest.rows as Row[];
  assert.deepEqual(
    rows.map((r) => [r.kind, r.name, r.key, r.timestamp_ns]).sort(),
    [
      ['measurement', 'env.smoke.certainty', `env.smoke.certainty@${T_V3}`, T_V3],
      ['measurement', 'env.smoke.note', `env.smoke.note@${T_V3}`, T_V3],
      ['result', AWKWARD, `${T_V3}-${AWKWARD}`, T_V3],
      ['result', 'sample_current.jpg', `${T_V3}-sample_current.jpg`, T_V3],
    ].sort(),
  );
  // the re-uploaded bytes: the row names this upload, not the first one of the same content
  const again = rows.find((r) => r.name === 'sample_current.jpg')!;
  assert.equal(again.md5, await md5(path.join(w.logdir, 'uploads', '1796312074950677949-sample_current.jpg')));
  assert.deepEqual(again.missing, []);
  assert.equal(rows.find((r) => r.name === 'env.smoke.certainty')!.value, 0.25);
  assert.equal(rows.find((r) => r.name === 'env.smoke.note')!.value, MULTILINE);
  assert.ok(rows.every((r) => r.execution_uuid === rows[0].execution_uuid));

  const previous = await json(['results', '--workspace', w.ws, '--model', 'previous']);
  assert.deepEqual((previous.rows as Row[]).map((r) => [r.key, r.md5]), [[`${T_V2}-sample_current.jpg`, createHash('md5').update('new frame').digest('hex')]]);

  const v1 = await json(['results', '--workspace', w.ws, '--model', w.v1.slice(0, 10)]);
  assert.deepEqual(v1.counts, { results: 6, measurements: 3 });
  // a path names every version recorded under it
  const byPath = await json(['results', '--workspace', w.ws, '--model', 'models/model.bin']);
  assert.equal(byPath.count, 14);
  // … and so does the plugin's own model file, also when older versions are only in kept segments
  assert.equal((await json(['results', '--workspace', w.ws, '--model', path.join(w.root, 'model.bin')])).count, 14);
  // (8-result segments: the first version is sealed, the newer two are still in the live mlmd)
  const part = await recordModelChangedTwice(['--segment-results', '8']);
  assert.equal((await json(['results', '--workspace', part.ws, '--model', path.join(part.root, 'model.bin')])).count, 14);

  const unknown = await runCli(['results', '--workspace', w.ws, '--model', 'ffffffffffff']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no model version matches "ffffffffffff" \(known versions: /);
  assert.doesNotMatch(unknown.stderr, /at least 6/);
  const short = await runCli(['results', '--workspace', w.ws, '--model', w.v1.slice(0, 5)]);
  assert.equal(short.code, 1);
  assert.match(short.stderr, new RegExp(`no model version matches "${w.v1.slice(0, 5)}" .*; an md5 prefix needs at least 6 hex digits$`, 'm'));
});

test('results --since/--until (ISO, ns, relative) and --name', async () => {
  const w = await workspace();
  const count = async (...extra: string[]) => (await json(['results', '--workspace', w.ws, ...extra])).count as number;
  assert.equal(await count('--since', T_V2), 5);
  assert.equal(await count('--since', T_V2, '--until', T_V2), 1);
  assert.equal(await count('--since', '2026-12-03T15:34:59.000000001Z', '--until', '2026-12-03T15:34:59.5'), 1);
  assert.equal(await count('--until', '2026-12-03T15:34:35.950677948Z'), 1);
  // relative to now: holds for any clock within ~2.7 years of the fixture's 2026-12-03
  assert.equal(await count('--since', '-1000d'), 14);
  assert.equal(await count('--until', '-1000d'), 0);
  assert.equal(await count('--name', 'upload'), 9);
  assert.equal(await count('--name', 'env.smoke.tile_probs'), 3);
  assert.equal(await count('--name', 'env.smoke.*'), 5);
  assert.equal(await count('--model', 'latest', '--name', 'upload'), 2);
  const bad = await runCli(['results', '--workspace', w.ws, '--since', 'yesterday']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--since: "yesterday" is not a time/);
  const swapped = await runCli(['results', '--workspace', w.ws, '--since', T_V3, '--until', T_V2]);
  assert.equal(swapped.code, 2);
  assert.equal(swapped.stderr.trim(), `cmf-sage: --since ${T_V3} is later than --until ${T_V2}: no time is both; swap them`);
});

test('tables and lineage for people show control characters in plugin text as escapes, not raw', async () => {
  const w = await workspace();
  const table = await cli(['results', '--workspace', w.ws, '--model', 'latest']);
  assert.ok(table.includes('first, "quoted"\\nsecond line'), table);
  const lineage = await cli(['lineage', '--workspace', w.ws, `env.smoke.note@${T_V3}`]);
  assert.match(lineage, /^ {2}value {6}first, "quoted"\\nsecond line$/m);
  for (const text of [table, lineage]) assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f]/);
});

test('results --csv is RFC 4180 that Python reads back exactly', async () => {
  const w = await workspace();
  const text = await cli(['results', '--workspace', w.ws, '--model', 'latest', '--csv']);
  assert.ok(text.includes('\r\n'));
  assert.ok(text.includes(`"${T_V3}-det, ""best"" 12:00.json"`));
  const rows = JSON.parse(
    await python('import csv,io,sys,json; print(json.dumps(list(csv.DictReader(io.StringIO(sys.argv[1], newline="")))))', text),
  ) as Record<string, string>[];
  assert.equal(rows.length, 4);
  assert.deepEqual(Object.keys(rows[0]), [
    'kind', 'timestamp_ns', 'time', 'name', 'value', 'value_type', 'key', 'md5', 'sha1', 'path', 'execution_uuid', 'model_md5', 'source', 'missing',
  ]);
  const awkward = rows.find((r) => r.name === AWKWARD)!;
  assert.equal(awkward.key, `${T_V3}-${AWKWARD}`);
  assert.equal(awkward.timestamp_ns, T_V3);
  assert.equal(awkward.model_md5, w.v3);
  // The workspace copy's name is made safe for git and DVC (`:` replaced, a hash added to stay unique).
  assert.match(path.posix.basename(awkward.path), new RegExp(`^${T_V3}-det, "best" 12_00~[0-9a-f]{10}\\.json$`));
  assert.equal(rows.find((r) => r.name === 'env.smoke.note')!.value, MULTILINE);
  assert.equal(rows.find((r) => r.name === 'env.smoke.certainty')!.value_type, 'double');
});

test('results: human table lists the model and aligned rows', async () => {
  const w = await workspace();
  const out = await cli(['results', '--workspace', w.ws, '--model', 'previous']);
  const lines = out.split('\n');
  assert.equal(lines[0], `model ${w.v2}  models/model.bin  (previous)`);
  assert.equal(lines[1], '1 result(s), 0 measurement(s)');
  assert.match(lines[3], /^time \(UTC\) +kind +name +value +key +md5 +execution +model$/);
  assert.match(lines[4], new RegExp(`^2026-12-03T15:34:59\\.000000001Z +result +sample_current\\.jpg +${T_V2}-sample_current\\.jpg`));
});

test('lineage: key, storage URL, md5, workspace path, pointer and file on disk all lead to the chain', async () => {
  const w = await workspace();
  const key = '1796312077176087761-sample_current.jpg';
  const byKey = await json(['lineage', '--workspace', w.ws, key]);
  assert.equal(byKey.chains.length, 1);
  const c = byKey.chains[0];
  assert.equal(c.result.key, key);
  assert.equal(c.result.timestamp_ns, '1796312077176087761');
  assert.equal(c.execution.state, 'COMPLETE');
  assert.match(c.execution.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-/);
  assert.match(c.execution.git.start, /^[0-9a-f]{40}$/);
  assert.match(c.execution.git.end, /^[0-9a-f]{40}$/);
  assert.equal(c.execution.window_recorded, true);
  assert.ok(c.execution.identity.hostname);
  assert.deepEqual(c.models, [{ md5: w.v1, path: 'models/model.bin' }]);
  assert.equal(c.stage, 'smoke/inference');
  assert.equal(c.pipeline, 'smoke');

  const url = `https://storage.sagecontinuum.org/api/v1/data/sage/sage-smoke-1.0.0/000048b02d15bc7c/${key}`;
  assert.deepEqual((await json(['lineage', '--workspace', w.ws, url])).chains, byKey.chains);
  assert.deepEqual((await json(['lineage', '--workspace', w.ws, c.result.md5])).chains, byKey.chains);
  assert.deepEqual((await json(['lineage', '--workspace', w.ws, c.result.path])).chains, byKey.chains);
  assert.deepEqual((await json(['lineage', '--workspace', w.ws, path.join(w.ws, `${c.result.path}.dvc`)])).chains, byKey.chains);
  assert.deepEqual((await json(['lineage', '--workspace', w.ws, path.join(w.logdir, 'uploads', key)])).chains, byKey.chains);
  // the sha1 Waggle stores with an upload, alone or as the node's <ts>-<sha1> folder
  assert.equal(c.result.sha1, createHash('sha1').update(await fsp.readFile(path.join(w.logdir, 'uploads', key))).digest('hex'));
  assert.deepEqual((await json(['lineage', '--workspace', w.ws, c.result.sha1.toUpperCase()])).chains, byKey.chains);
  assert.deepEqual((await json(['lineage', '--workspace', w.ws, `1796312077176087761-${c.result.sha1}`])).chains, byKey.chains);

  // bytes uploaded twice: the md5 leads to both uploads, each key to its own model version
  const twice = await json(['lineage', '--workspace', w.ws, '9df0d74a7fcc13a656e96b84204d2dd5']);
  assert.deepEqual(twice.chains.map((x: { result: { key: string }; models: { md5: string }[] }) => [x.result.key, x.models[0].md5]), [
    ['1796312074950677949-sample_current.jpg', w.v1],
    [`${T_V3}-sample_current.jpg`, w.v3],
  ]);
  const second = await json(['lineage', '--workspace', w.ws, `${T_V3}-sample_current.jpg`]);
  assert.deepEqual(second.chains.map((x: { models: { md5: string }[] }) => x.models[0].md5), [w.v3]);

  const m = await json(['lineage', '--workspace', w.ws, `env.smoke.certainty@${T_V3}`]);
  assert.equal(m.chains[0].result.value, 0.25);
  assert.equal(m.chains[0].models[0].md5, w.v3);

  const human = await cli(['lineage', '--workspace', w.ws, key]);
  assert.match(human, new RegExp(`^result +${key}\\n`));
  assert.match(human, /\n← execution +[0-9a-f-]{36} +inference, complete/);
  assert.match(human, new RegExp(`\\n← model +${w.v1} +models/model.bin\\n`));
  assert.match(human, /\n← stage +smoke\/inference +pipeline smoke\n$/);
});

test('lineage of an unknown target: exit 1 and one line on stderr', async () => {
  const w = await workspace();
  for (const target of ['1796312000000000000-nothing.jpg', '00000000000000000000000000000000', 'results/nope.jpg']) {
    const r = await runCli(['lineage', '--workspace', w.ws, target]);
    assert.equal(r.code, 1, target);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^cmf-sage: "${target.replace(/[.]/g, '\\.')}": no result, measurement, md5, sha1 or path matches it; "cmf-sage results" lists the keys that do`));
  }
  const model = await runCli(['lineage', '--workspace', w.ws, w.v2]);
  assert.equal(model.code, 1);
  assert.match(model.stderr, new RegExp(`model version ${w.v2} \\(models/model.bin; see "cmf-sage results --model ${w.v2}"\\)`));
  // no target at all is bad input (exit 2), not an unknown one
  const empty = await runCli(['lineage', '--workspace', w.ws, ' ']);
  assert.equal(empty.code, 2);
  assert.equal(empty.stderr, 'cmf-sage: lineage needs a TARGET: a result file path, an md5, a <ts_ns>-<filename> key or a storage URL ending in one\n');
});

test('graph: mermaid and dot name every model version with its result count', async () => {
  const w = await workspace();
  const mermaid = await cli(['graph', '--workspace', w.ws]);
  assert.match(mermaid, /^%% cmf-sage lineage: smoke; 3 model versions, 3 executions, 9 results · 5 metrics\nflowchart LR\n/);
  assert.ok(mermaid.includes(`{{"model ${w.v3.slice(0, 12)} (latest)<br/>models/model.bin<br/>2 results · 2 metrics<br/>1 execution"}}`));
  assert.ok(mermaid.includes(`{{"model ${w.v1.slice(0, 12)}<br/>models/model.bin<br/>6 results · 3 metrics<br/>1 execution"}}`));
  assert.equal((mermaid.match(/ -- input --> /g) ?? []).length, 3);
  const dot = await cli(['graph', '--workspace', w.ws, '--format', 'dot', '--model', 'previous']);
  assert.match(dot, /^\/\/ .*\ndigraph lineage \{\n  rankdir=LR;/);
  assert.ok(dot.includes(`label="model ${w.v2.slice(0, 12)} (previous)\\nmodels/model.bin\\n1 result · 0 metrics\\n1 execution"`));
  assert.ok(!dot.includes(w.v1.slice(0, 12)), '--model keeps only that version');
  if (await hasDot()) await execFileP('dot', ['-Tsvg', '-o', '/dev/null'], { input: dot } as never);
  // grouped past --max-executions
  const grouped = await cli(['graph', '--workspace', w.ws, '--max-executions', '2']);
  assert.match(grouped, /3 executions \(grouped per stage and model version\)/);
  // --out into a folder that is not there: a typo, exit 2 naming the folder, nothing written
  const nowhere = path.join(w.root, 'no-such-folder');
  for (const args of [['graph', '--workspace', w.ws, '--out', path.join(nowhere, 'g.html')], ['export', '--format', 'cmf-json', '--workspace', w.ws, '--out', path.join(nowhere, 'p.json')]]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`--out .*: the folder ${nowhere} does not exist; create it or choose another path`));
  }
  // a folder, or nothing, as --out
  for (const [out, message] of [[w.root, `${w.root} is a folder; give a file name in it`], ['', '--out needs a file name']] as const) {
    const r = await runCli(['graph', '--workspace', w.ws, '--out', out]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim(), `cmf-sage: ${out ? `--out ${out}: ` : ''}${message}`);
  }
  await assert.rejects(fsp.stat(nowhere));
  // through a symbolic link the target is replaced and the link stays; a FIFO (like /dev/stdout) is written to, not replaced
  const target = path.join(w.root, 'real.mmd');
  await fsp.writeFile(target, 'old');
  const link = path.join(w.root, 'link.mmd');
  await fsp.symlink(target, link);
  assert.equal((await runCli(['graph', '--workspace', w.ws, '--out', link])).code, 0);
  assert.ok((await fsp.lstat(link)).isSymbolicLink());
  assert.equal(await fsp.readFile(target, 'utf8'), mermaid);
  const fifo = path.join(w.root, 'pipe');
  await execFileP('mkfifo', [fifo]);
  const reader = execFileP('cat', [fifo], { timeout: 20_000 }); // killed if nothing ever opens the FIFO to write
  assert.equal((await runCli(['graph', '--workspace', w.ws, '--out', fifo])).code, 0);
  assert.equal((await reader).stdout, mermaid);
  assert.ok((await fsp.lstat(fifo)).isFIFO(), 'still a FIFO');
  // a dangling link: its target is created, the link stays
  const dangling = path.join(w.root, 'dangling.mmd');
  await fsp.symlink(path.join(w.root, 'made.mmd'), dangling);
  assert.equal((await runCli(['graph', '--workspace', w.ws, '--out', dangling])).code, 0);
  assert.ok((await fsp.lstat(dangling)).isSymbolicLink());
  assert.equal(await fsp.readFile(path.join(w.root, 'made.mmd'), 'utf8'), mermaid);
  // never the workspace's own files, nor the file being read
  const mlmdBefore = await fsp.readFile(path.join(w.ws, 'mlmd'));
  for (const own of ['mlmd', '.git/HEAD', '.cmf-sage/journal.ndjson', 'models/model.bin.dvc']) {
    for (const args of [['graph', '--workspace', w.ws], ['export', '--format', 'cmf-json', '--workspace', w.ws]]) {
      const r = await runCli([...args, '--out', path.join(w.ws, own)]);
      assert.equal(r.code, 2, `${own}: ${r.stderr}`);
      assert.equal(r.stderr.trim(), `cmf-sage: --out ${path.join(w.ws, own)} would replace the workspace's own ${own}; write the output elsewhere`);
    }
  }
  assert.ok((await fsp.readFile(path.join(w.ws, 'mlmd'))).equals(mlmdBefore), 'the mlmd is untouched');
  const copy = path.join(w.root, 'copy.mlmd');
  await fsp.copyFile(path.join(w.ws, 'mlmd'), copy);
  const self = await runCli(['export', '--format', 'cmf-json', '--file', copy, '--out', copy]);
  assert.equal(self.code, 2);
  assert.match(self.stderr, /is the file this command reads; write to another file/);
  // a new file at the workspace's top is fine
  assert.equal((await runCli(['graph', '--workspace', w.ws, '--out', path.join(w.ws, 'lineage.mmd')])).code, 0);
  await fsp.rm(path.join(w.ws, 'lineage.mmd')); // the workspace is shared by the tests of this file
  // a picture format it does not draw: refused with the way to get one
  const svg = await runCli(['graph', '--workspace', w.ws, '--out', path.join(w.root, 'g.svg')]);
  assert.equal(svg.code, 2);
  assert.match(svg.stderr, /graph writes Mermaid, Graphviz dot or an HTML page, not SVG; .*dot -Tsvg > g\.svg/);
  await assert.rejects(fsp.stat(path.join(w.root, 'g.svg')));
});

async function hasDot(): Promise<boolean> {
  return execFileP('dot', ['-V']).then(() => true, () => false);
}

test('kept segments are read too: joined on model md5 and execution uuid, never counted twice', async () => {
  const w = await workspace();
  const before = await json(['models', '--workspace', w.ws]);
  const ws = path.join(w.root, 'ws-segments');
  await fsp.cp(w.ws, ws, { recursive: true });
  // a copy of the live mlmd as a kept segment: nothing new
  const seg = (id: string) => path.join(ws, '.cmf-sage', 'segments', id);
  await fsp.mkdir(seg('000001'), { recursive: true });
  await fsp.copyFile(path.join(ws, 'mlmd'), path.join(seg('000001'), 'mlmd'));
  const same = await json(['models', '--workspace', ws]);
  assert.deepEqual(
    same.models.map((m: Record<string, unknown>) => [m.md5, m.executions, m.results, m.metrics]),
    before.models.map((m: Record<string, unknown>) => [m.md5, m.executions, m.results, m.metrics]),
  );
  assert.equal((await json(['results', '--workspace', ws])).count, 14);

  // a segment holding another run of model v1 (the binary fixture), delivered and gone from the live mlmd
  const other = path.join(w.root, 'other');
  const logdir = await copyFixture('pywaggle-binary/logdir', path.join(w.root, 'other-logdir'));
  const r = await runCli(['watch', '--once', '--pipeline', 'smoke', '--model', V1, '--results', logdir, '--workspace', other]);
  assert.equal(r.code, 0, r.stderr);
  await fsp.mkdir(seg('000002'), { recursive: true });
  await fsp.copyFile(path.join(other, 'mlmd'), path.join(seg('000002'), 'mlmd'));
  const merged = await json(['models', '--workspace', ws]);
  const v1 = merged.models.find((m: { md5: string }) => m.md5 === w.v1);
  assert.deepEqual([v1.executions, v1.results, v1.metrics], [2, 10, 7]);
  const rows = (await json(['results', '--workspace', ws, '--model', w.v1, '--name', 'upload'])).rows as Row[];
  assert.equal(rows.length, 10);
  const exact = rows.find((x) => x.timestamp_ns === '1796312080879783945')!;
  assert.equal(exact.key, '1796312080879783945-sample.jpg');
  const chain = await json(['lineage', '--workspace', ws, '1796312080879783945-sample.jpg']);
  assert.equal(chain.chains[0].execution.source, 'segment 000002');
});

test('not an MLMD file: refused with one line, exit 2', async () => {
  const w = await workspace();
  const text = path.join(w.root, 'notes.txt');
  await fsp.writeFile(text, 'hello, not a database\n');
  const plain = await runCli(['models', '--file', text]);
  assert.equal(plain.code, 2);
  assert.equal(plain.stderr.trim().split('\n').length, 1);
  assert.match(plain.stderr, /notes\.txt is not an SQLite database .*not an MLMD file/);
  const sqliteFile = path.join(w.root, 'other.db');
  await execFileP('sqlite3', [sqliteFile, 'CREATE TABLE people (name TEXT); INSERT INTO people VALUES (1);']);
  const notMlmd = await runCli(['results', '--file', sqliteFile]);
  assert.equal(notMlmd.code, 2);
  assert.match(notMlmd.stderr, /other\.db is an SQLite database but not an MLMD store \(it holds people\)/);
  const missing = await runCli(['graph', '--file', path.join(w.root, 'nope.mlmd')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.mlmd does not exist/);
  const both = await runCli(['models', '--file', text, '--workspace', w.ws]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--file.*cannot be used with option '--workspace/);
  // a damaged MLMD file (pages overwritten): refused, not an internal error
  const damaged = path.join(w.root, 'damaged.mlmd');
  const bytes = await fsp.readFile(path.join(w.ws, 'mlmd'));
  bytes.fill(0xff, 3 * 4096, 43 * 4096);
  await fsp.writeFile(damaged, bytes);
  const broken = await runCli(['results', '--file', damaged]);
  assert.equal(broken.code, 2, broken.stderr);
  assert.match(broken.stderr, /damaged\.mlmd.* damaged SQLite/);
  // and --file on a real mlmd reads it without a workspace
  const direct = await json(['models', '--file', path.join(w.ws, 'mlmd')]);
  assert.equal(direct.models.length, 3);
});

test('folder mode: results without upload keys show their recorded time and file name', async () => {
  const w = await workspace();
  const results = await copyFixture('plain-results', path.join(w.root, 'plain'));
  const ws = path.join(w.root, 'ws-plain');
  const run = await runCli(['watch', '--once', '--pipeline', 'plain', '--model', V1, '--results', results, '--workspace', ws, '--settle', '0']);
  assert.equal(run.code, 0, run.stderr);
  const out = await json(['results', '--workspace', ws, '--name', 'upload']);
  const rows = (out.rows as (Row & { path: string })[]).sort((a, b) => a.path.localeCompare(b.path));
  assert.deepEqual(rows.map((r) => [r.name, r.path, r.key, r.missing]), [
    ['frame-0001.json', 'results/detections/frame-0001.json', null, ['upload_key']],
    ['frame-0002.json', 'results/detections/frame-0002.json', null, ['upload_key']],
    ['notiz-ü.txt', 'results/notiz-ü.txt', null, ['upload_key']],
    ['summary 2026-12-03.csv', 'results/summary 2026-12-03.csv', null, ['upload_key']],
  ]);
  const recorded = await sqlite(
    path.join(ws, 'mlmd'),
    "SELECT CAST(p.int_value AS TEXT) AS ts FROM ArtifactProperty p WHERE p.name = 'timestamp_ns' AND p.artifact_id = (SELECT id FROM Artifact WHERE name LIKE 'results/notiz-ü.txt:%')",
  );
  assert.equal(rows[2].timestamp_ns, recorded[0].ts);
  const chain = await json(['lineage', '--workspace', ws, 'results/summary 2026-12-03.csv']);
  assert.equal(chain.chains[0].result.name, 'summary 2026-12-03.csv');
  assert.equal(chain.chains[0].pipeline, 'plain');
});

/** A copy of the recorded workspace with its closed executions sealed (push's own sealing), and its segment names. */
async function sealedCopy(w: Awaited<ReturnType<typeof workspace>>, name: string): Promise<{ ws: string; segments: string[] }> {
  const ws = path.join(w.root, name);
  await fsp.cp(w.ws, ws, { recursive: true });
  const { sealForPush } = await import('../src/recorder/offline.js');
  const { silentLogger } = await import('../src/log.js');
  assert.equal(await sealForPush(ws, silentLogger()), 'sealed');
  return { ws, segments: await fsp.readdir(path.join(ws, '.cmf-sage', 'segments')) };
}

test('after watch seals closed executions into segments, the answers are the same', async () => {
  const w = await workspace();
  const { ws, segments } = await sealedCopy(w, 'ws-sealed');
  assert.equal(segments.length, 1);
  const strip = (o: { models: Record<string, unknown>[] }) => o.models.map((m) => [m.md5, m.executions, m.results, m.metrics, m.first_used_ns, m.last_used_ns]);
  assert.deepEqual(strip(await json(['models', '--workspace', ws])), strip(await json(['models', '--workspace', w.ws])));
  const all = await json(['results', '--workspace', ws]);
  assert.equal(all.count, 14);
  assert.ok((all.rows as { source: string }[]).every((r) => r.source === `segment ${segments[0]}`));
  const chain = await json(['lineage', '--workspace', ws, `${T_V3}-sample_current.jpg`]);
  assert.equal(chain.chains[0].models[0].md5, w.v3);
});

test('results | head: a reader that leaves early ends the command quietly, exit 0', async () => {
  const w = await workspace();
  const { writeBulkMlmd } = await import('./query-bulk-mlmd.js');
  const bulk = await writeBulkMlmd({ workspace: path.join(w.root, 'bulk-epipe'), results: 5000, executions: 5, measurementsPerExecution: 2 });
  for (const format of ['--json', '--csv']) {
    const child = spawn(process.execPath, [CLI, 'results', '--file', bulk.mlmd, format], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // take one chunk (far less than the ~2 MB answer), then go away like `head` does
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const [code] = (await once(child, 'close')) as [number];
    assert.equal(stderr, '', format);
    assert.equal(code, 0, format);
  }
  // a full disk under stdout is not a closed pipe: one line, exit 74
  const full = await execFileP('sh', ['-c', `"${process.execPath}" "${CLI}" results --file "${bulk.mlmd}" --json > /dev/full; echo "exit $?"`]);
  assert.match(full.stdout, /^exit 74$/m);
  assert.equal(full.stderr.trim(), 'cmf-sage: no space left on device while writing the output: free some disk space and run again');
});

test('a kept segment that is not a complete MLMD store: one line naming it, exit 2', async () => {
  const w = await workspace();
  const {
    ws,
    segments: [name],
  } = await sealedCopy(w, 'ws-bad-segment');
  const mlmd = path.join(ws, '.cmf-sage', 'segments', name!, 'mlmd');
  const good = await fsp.readFile(mlmd);
  // right schema version, a column the queries read dropped: only met mid-query
  await execFileP('sqlite3', [mlmd, 'DROP INDEX idx_artifact_property_string; ALTER TABLE ArtifactProperty DROP COLUMN string_value']);
  for (const args of [['results'], ['results', '--model', 'latest'], ['models']]) {
    const r = await runCli([...args, '--workspace', ws]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`segments/${name}/mlmd.*not a complete MLMD v10 store \\(no such column: (\\w+\\.)?string_value\\)`));
  }
  // gone (its summary and manifest still there, or the folder emptied): named, not quietly left out of the answer
  await fsp.rm(mlmd);
  for (const args of [['results'], ['results', '--model', 'latest'], ['models'], ['lineage', `${T_V3}-sample_current.jpg`], ['graph']]) {
    const r = await runCli([...args, '--workspace', ws]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`segments/${name}/mlmd is missing, so this kept segment's lineage cannot be read; restore the segment folder`));
  }
  for (const args of [['--all'], ['--segment', name!]]) {
    const r = await runCli(['export', '--format', 'cmf-json', '--workspace', ws, ...args]);
    assert.equal(r.code, 2, `export ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`segments/${name}/mlmd is missing, so this kept segment's lineage cannot be exported`));
  }
  // not MLMD at all: the short check fails, the full inspection names the problem
  await fsp.writeFile(mlmd, good);
  await execFileP('sqlite3', [mlmd, 'DROP TABLE MLMDEnv']);
  const r = await runCli(['results', '--workspace', ws]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`segments/${name}/mlmd is not an MLMD store: it has MLMD tables .* but no MLMDEnv table`));
});

test('results --model reads only the segments that can hold that version, and answers as the full view does', async () => {
  const w = await workspace();
  // The same recording, each run's execution sealed into a segment of its own.
  const seg = await segmentedWorkspace();
  const segments = (await fsp.readdir(path.join(seg.ws, '.cmf-sage', 'segments'))).filter((n) => /^\d+$/.test(n)).sort();
  assert.ok(segments.length >= 3, `segments: ${segments.join(', ')}`);
  const summaries = await Promise.all(
    segments.map(async (n) => JSON.parse(await fsp.readFile(path.join(seg.ws, '.cmf-sage', 'segments', n, 'summary.json'), 'utf8'))),
  );
  const holding = (md5: string) => segments.filter((_, i) => summaries[i].models.some((m: { md5: string }) => m.md5 === md5));
  const key = (r: Row) => [r.kind, r.key, r.md5, r.timestamp_ns, r.model_md5, JSON.stringify(r.value)].join('|');
  for (const [spec, md5] of [['latest', w.v3], ['previous', w.v2], [w.v1.slice(0, 8), w.v1], [w.v2, w.v2]] as const) {
    const full = await json(['results', '--workspace', w.ws, '--model', spec]);
    const part = await json(['results', '--workspace', seg.ws, '--model', spec]);
    assert.deepEqual(part.models, full.models, spec);
    assert.deepEqual((part.rows as Row[]).map(key).sort(), (full.rows as Row[]).map(key).sort(), spec);
    const read = (part.sources as string[]).filter((f) => f.includes(`${path.sep}segments${path.sep}`)).map((f) => path.basename(path.dirname(f)));
    // every segment that ran the version is read; of the others, at most those that had to be looked at to find it
    for (const n of holding(md5)) assert.ok(read.includes(n), `${spec}: segment ${n} not read (${read.join(', ')})`);
    if (spec !== 'previous') assert.deepEqual(read.sort(), holding(md5).sort(), spec);
    else assert.ok(!read.includes(holding(w.v1).find((n) => !holding(w.v2).includes(n) && !holding(w.v3).includes(n)) ?? '-'), `previous read v1's segment: ${read.join(', ')}`);
  }
  // read from some segments only, a version is labelled latest/previous only when that is what was asked
  assert.doesNotMatch(await cli(['results', '--workspace', seg.ws, '--model', w.v1.slice(0, 8)]), /\((latest|previous)\)/);
  assert.match(await cli(['results', '--workspace', seg.ws, '--model', 'latest']), new RegExp(`model ${w.v3} .*\\(latest\\)`));
  // status lists the versions newest first, as models does, though they are only in segments
  const st = await json(['status', '--workspace', seg.ws]);
  const order = (await json(['models', '--workspace', seg.ws])).models.map((m: { md5: string }) => m.md5);
  assert.deepEqual(st.models.map((m: { md5: string }) => m.md5), order);
  assert.deepEqual(order, [w.v3, w.v2, w.v1]);
  // a version no segment names: exit 1, as on the full view
  const unknown = await runCli(['results', '--workspace', seg.ws, '--model', 'ffffffffffff']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no model version matches "ffffffffffff"/);
});

test('results read one file at a time give what the whole view gives, for every filter', async () => {
  const seg = await segmentedWorkspace();
  const { planResults } = await import('../src/query/model-sources.js');
  const { streamResults } = await import('../src/query/results-stream.js');
  const { openSources, openSegmentFiles } = await import('../src/query/sources.js');
  const { LineageView } = await import('../src/query/view.js');
  const { queryResults } = await import('../src/query/results.js');
  const { modelVersions, resolveModelSpec } = await import('../src/query/models.js');
  const { JsonRenderer } = await import('../src/query/results-output.js');
  const cases: [string | undefined, Record<string, unknown>][] = [
    [undefined, {}],
    ['latest', {}],
    ['previous', {}],
    [seg.v1.slice(0, 8), {}],
    ['models/model.bin', {}],
    [undefined, { name: 'upload' }],
    ['latest', { name: 'env.*' }],
    [undefined, { sinceNs: BigInt(T_V2), untilNs: BigInt(T_V3) }],
  ];
  for (const [spec, extra] of cases) {
    const label = `${spec ?? 'every version'} ${JSON.stringify(extra, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`;
    const plan = await planResults({ workspace: seg.ws }, spec);
    assert.ok(plan, `${label}: summaries are enough to plan`);
    const sJson = new JsonRenderer();
    const streamed = await (async () => {
      try {
        return await streamResults(plan, { ...extra, models: plan.models }, sJson.rows());
      } finally {
        plan.close();
      }
    })();
    // the whole view: live mlmd and every segment open at once
    const live = await openSources({ workspace: seg.ws, segments: false });
    const segs = await openSegmentFiles(
      (await fsp.readdir(path.join(seg.ws, '.cmf-sage', 'segments'))).filter((n) => /^\d+$/.test(n)).sort().map((n) => path.join(seg.ws, '.cmf-sage', 'segments', n)),
    );
    const view = LineageView.load([...live.files, ...segs], { counts: false });
    try {
      const versions = modelVersions(view);
      const models = spec === undefined ? undefined : resolveModelSpec(spec, versions, view.executions);
      assert.deepEqual(plan.models?.slice().sort(), models?.slice().sort(), label);
      const vJson = new JsonRenderer();
      const whole = queryResults(view, { ...extra, models }, vJson.rows());
      // the same rows in the same order, up to the source files they name (the stream reads only those that can hold them)
      assert.ok(whole.count > 0, label);
      assert.equal(streamed.items.count, whole.count, label);
      assert.equal(Buffer.concat([...streamed.items.buffers()]).toString(), Buffer.concat([...whole.buffers()]).toString(), label);
      assert.deepEqual(sJson.counts, vJson.counts, label);
      if (spec === undefined) assert.deepEqual(streamed.versions, versions, label);
      else for (const m of models!) assert.deepEqual(streamed.versions.find((v) => v.md5 === m)?.path, versions.find((v) => v.md5 === m)?.path, label);
    } finally {
      view.close();
      live.close();
      for (const f of segs) f.db.close();
    }
  }
});

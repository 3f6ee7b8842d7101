// `cmf-sage export --format cmf-json`: the real CLI writes the payload push sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { loadMlmd, MlmdStore } from '../src/mlmd/index.js';
import { dumpToJson } from '../src/server/payload.js';
import { runCli, tempDir } from './helpers.js';
import { addUploads, pythonWithInput, recordWorkspace, seal, watchOnce } from './server-helpers.js';

async function payloadOf(file: string, pipeline = 'smoke'): Promise<string> {
  const store = new MlmdStore((await loadMlmd(file)).db);
  try {
    return dumpToJson(store, pipeline);
  } finally {
    store.close();
  }
}

const executions = async (text: string): Promise<number> =>
  Number(await pythonWithInput('import json,sys; d=json.loads(sys.stdin.read()); print(sum(len(s["executions"]) for p in d["Pipeline"] for s in p["stages"]))', text));

test('export: live mlmd (default), --out, --segment, --all, --file; clear errors', async () => {
  const t = await recordWorkspace();
  const live = await payloadOf(path.join(t.ws, 'mlmd'));
  let r = await runCli(['export', '--format', 'cmf-json', '--workspace', t.ws]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, live + '\n');

  const out = path.join(await tempDir('server-export-'), 'payload.json');
  r = await runCli(['export', '--format', 'cmf-json', '--workspace', t.ws, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await fsp.readFile(out, 'utf8'), live);

  // seal, record a second window: the live mlmd then holds only the new one
  await seal(t.ws);
  await addUploads(t.logdir, 2, 1796312500000000000n, 1500, 'later');
  await watchOnce(t);
  r = await runCli(['export', '--format', 'cmf-json', '--workspace', t.ws, '--segment', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, live + '\n', 'segment 000001 holds what the live mlmd held before sealing');
  const liveNow = (await runCli(['export', '--format', 'cmf-json', '--workspace', t.ws])).stdout;
  const all = (await runCli(['export', '--format', 'cmf-json', '--workspace', t.ws, '--all'])).stdout;
  assert.equal(await executions(live), 1);
  assert.equal(await executions(liveNow), 1);
  assert.equal(await executions(all), 2, '--all unites the sealed segment and the live mlmd');

  r = await runCli(['export', '--format', 'cmf-json', '--file', path.join(t.ws, 'mlmd')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, liveNow);

  r = await runCli(['export', '--format', 'cmf-json', '--file', path.join(t.ws, 'mlmd'), '--pipeline', 'nope']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /has no pipeline named "nope" \(it has: smoke\)/);
  r = await runCli(['export', '--workspace', t.ws]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--format/);
  r = await runCli(['export', '--format', 'cmf-json', '--workspace', t.ws, '--segment', '9']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no sealed segment "9"/);
  // a --file that is not there, or empty, is named as such (not read as a new, empty store)
  const missing = path.join(t.ws, 'no-such.db');
  r = await runCli(['export', '--format', 'cmf-json', '--file', missing]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim(), `cmf-sage: ${missing} does not exist; pass an MLMD (SQLite) file`);
  await assert.rejects(fsp.stat(missing));
  const empty = path.join(t.ws, 'empty.db');
  await fsp.writeFile(empty, '');
  r = await runCli(['export', '--format', 'cmf-json', '--file', empty]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim(), `cmf-sage: ${empty} is empty: it holds no MLMD store to read`);
});

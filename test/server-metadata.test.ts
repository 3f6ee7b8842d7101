// `cmf metadata push` without Python: pushMetadata against CmfServerContractDouble,
// a contract test double of cmf-server built from the research notes (cmf.md
// §6.3–§6.4, §10), which answers as the server does, odd replies included.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { request } from 'undici';
import { loadMlmd, MlmdStore } from '../src/mlmd/index.js';
import { UserError } from '../src/errors.js';
import { pushMetadata } from '../src/server/metadata.js';
import { dumpToJson } from '../src/server/payload.js';
import { silentLogger } from '../src/log.js';
import { CmfServerContractDouble } from './cmf-server-contract-double.js';
import { captureLogger, tempDir } from './helpers.js';
import { pythonWithInput, recordWorkspace } from './server-helpers.js';
import { writeBulkMlmd } from './query-bulk-mlmd.js';

const FAST = { baseMs: 5, maxMs: 40 };
const doubles: CmfServerContractDouble[] = [];
after(async () => {
  for (const d of doubles) await d.stop();
});

async function double(): Promise<CmfServerContractDouble> {
  const d = new CmfServerContractDouble();
  doubles.push(d);
  await d.start();
  return d;
}

const fixture = (async () => {
  const t = await recordWorkspace();
  const store = new MlmdStore((await loadMlmd(path.join(t.ws, 'mlmd'))).db);
  try {
    return { payload: dumpToJson(store, 'smoke'), ws: t.ws };
  } finally {
    store.close();
  }
})();

/** A payload of about 2 MB (2,000 results), for faults in the middle of an upload. */
const bigPayload = (async () => {
  const b = await writeBulkMlmd({ workspace: await tempDir('server-bulk-'), results: 2000, executions: 4, measurementsPerExecution: 5 });
  const store = new MlmdStore((await loadMlmd(b.mlmd)).db);
  try {
    return dumpToJson(store, 'bench');
  } finally {
    store.close();
  }
})();

async function post(url: string, body: string | undefined, contentType: string | undefined = 'application/json') {
  const res = await request(`${url}/api/mlmd_push`, { method: 'POST', headers: contentType ? { 'content-type': contentType } : {}, body });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: (() => { try { return JSON.parse(text); } catch { return undefined; } })() };
}

const envelope = (payload: unknown, pipeline: unknown = 'smoke') => JSON.stringify({ exec_uuid: null, json_payload: typeof payload === 'string' ? payload : JSON.stringify(payload), pipeline_name: pipeline });

test('contract double: FastAPI/pydantic validation replies of /api/mlmd_push', async () => {
  const d = await double();
  const health = await request(`${d.url}/api/`);
  assert.deepEqual(await health.body.json(), ['cmf-server']);

  let r = await post(d.url, JSON.stringify({ pipeline_name: 'smoke' }));
  assert.equal(r.status, 422);
  assert.equal(r.json.detail[0].type, 'missing');
  assert.deepEqual(r.json.detail[0].loc, ['body', 'json_payload']);

  r = await post(d.url, JSON.stringify({ pipeline_name: '', json_payload: '{}' }));
  assert.equal(r.status, 422);
  assert.equal(r.json.detail[0].type, 'string_too_short');

  r = await post(d.url, JSON.stringify({ pipeline_name: '  ', json_payload: '{}' }));
  assert.equal(r.status, 422);
  assert.equal(r.json.detail[0].msg, 'Value error, Pipeline name must not be empty or whitespace');

  r = await post(d.url, JSON.stringify({ pipeline_name: 'smoke', json_payload: '{bad' }));
  assert.equal(r.json.detail[0].msg, 'Value error, JSON payload is not valid JSON');

  r = await post(d.url, JSON.stringify({ pipeline_name: 'smoke', json_payload: 7 }));
  assert.equal(r.json.detail[0].type, 'string_type');

  r = await post(d.url, '{"pipeline_name": ');
  assert.equal(r.status, 422);
  assert.equal(r.json.detail[0].type, 'json_invalid');

  r = await post(d.url, 'pipeline_name=smoke', 'application/x-www-form-urlencoded');
  assert.equal(r.status, 422);
  assert.equal(r.json.detail[0].type, 'model_attributes_type');

  // Optional[str] lets null through the field check; the validator's .strip() then fails: a bare 500
  r = await post(d.url, JSON.stringify({ pipeline_name: null, json_payload: '{}' }));
  assert.equal(r.status, 500);
  assert.equal(r.text, 'Internal Server Error');

  // update_mlmd's answers
  r = await post(d.url, envelope({}));
  assert.equal(r.status, 400);
  assert.deepEqual(r.json, { detail: 'Invalid JSON payload. The pipeline name is missing.' });
  r = await post(d.url, envelope({ Pipeline: [{ name: 'other', stages: [] }] }));
  assert.deepEqual([r.status, r.json], [200, { status: 'pipeline_not_exist' }]);
  const noUuid = { Pipeline: [{ name: 'smoke', create_time_since_epoch: 1, stages: [{ name: 'smoke/s', custom_properties: {}, create_time_since_epoch: 1, executions: [{ name: '', properties: {}, custom_properties: {}, events: [], create_time_since_epoch: 1 }] }] }] };
  r = await post(d.url, envelope(noUuid));
  assert.deepEqual([r.status, r.json], [422, { detail: 'version_update' }]);
  assert.equal(d.uuids('smoke').length, 0, 'nothing merged by the refused requests');
});

test('contract double: success, then exists for the same executions; the k-uuid quirk is kept', async () => {
  const d = await double();
  const { payload } = await fixture;
  let r = await post(d.url, envelope(payload));
  assert.deepEqual(r.json, { status: 'success' });
  const n = d.uuids('smoke').length;
  assert.ok(n >= 1);
  r = await post(d.url, envelope(payload));
  assert.deepEqual(r.json, { status: 'exists' });
  assert.equal(d.uuids('smoke').length, n);
  assert.deepEqual(d.duplicates(), []);
  assert.deepEqual(d.mergeErrors, []);
  assert.ok(d.artifacts.size >= 10, 'Dataset, Model and Metrics artifacts were merged');
  // an execution with two new uuids is merged twice by the real server
  const two = JSON.parse(payload);
  const ex = two.Pipeline[0].stages[0].executions[0];
  ex.properties.Execution_uuid = 'aaaaaaaa-0000-11f1-8000-000000000001,aaaaaaaa-0000-11f1-8000-000000000002';
  r = await post(d.url, envelope(two));
  assert.deepEqual(r.json, { status: 'success' });
  assert.equal(d.duplicates().length, 2);
});

test('pushMetadata: the body requests.post(json=...) sends; success, then exists', async () => {
  const d = await double();
  const { payload } = await fixture;
  assert.equal(await pushMetadata({ server: d.url, pipeline: 'smoke', payload, logger: silentLogger() }), 'success');
  assert.equal(await pushMetadata({ server: `${d.url}/`, pipeline: 'smoke', payload, logger: silentLogger() }), 'exists');
  const check = await pythonWithInput(
    'import json,sys\nb=json.loads(sys.stdin.read())\nprint(json.dumps([list(b), b["exec_uuid"], type(b["json_payload"]).__name__, b["pipeline_name"], len(json.loads(b["json_payload"])["Pipeline"])]))',
    d.bodies[0]!,
  );
  assert.deepEqual(JSON.parse(check), [['exec_uuid', 'json_payload', 'pipeline_name'], null, 'str', 'smoke', 1]);
  assert.equal(JSON.parse(d.bodies[0]!).json_payload, payload, 'the payload arrives as the exact string');
  assert.deepEqual(d.duplicates(), []);
});

async function rejects(p: Promise<unknown>, re: RegExp, code: number): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof UserError, String(err));
    assert.match(err.message, re);
    assert.equal(err.exitCode, code);
    return true;
  });
}

test("pushMetadata: the server's refusals are clear errors with its words, sent once", async () => {
  const d = await double();
  const { payload } = await fixture;
  const o = { server: d.url, logger: silentLogger(), backoff: FAST };
  await rejects(pushMetadata({ ...o, pipeline: 'other', payload }), /answered "pipeline_not_exist": the payload holds no pipeline named "other"/, 76);
  await rejects(pushMetadata({ ...o, pipeline: 'smoke', payload: '{"Pipeline": []}' }), /HTTP 400: "Invalid JSON payload\. The pipeline name is missing\."/, 76);
  const old = JSON.parse(payload);
  delete old.Pipeline[0].stages[0].executions[0].properties.Execution_uuid;
  await rejects(pushMetadata({ ...o, pipeline: 'smoke', payload: JSON.stringify(old) }), /422 "version_update"/, 76);
  await rejects(pushMetadata({ ...o, pipeline: '', payload }), /HTTP 422: body\.pipeline_name: String should have at least 1 character/, 76);
  await rejects(pushMetadata({ ...o, server: `${d.url}/api`, pipeline: 'smoke', payload }), /no cmf-server API at .*\/api\/api\/mlmd_push \(HTTP 404\)/, 76);
  assert.equal(d.pushRequests().length, 4, 'one request each, no retries');
  assert.equal(d.uuids('smoke').length, 0);
});

test('pushMetadata: 500 twice, then success; an nginx 502 page, then success; nothing merged twice', async () => {
  const d = await double();
  const { payload } = await fixture;
  const { logger, records } = captureLogger();
  d.faults.push({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
  assert.equal(await pushMetadata({ server: d.url, pipeline: 'smoke', payload, logger, backoff: FAST }), 'success');
  assert.deepEqual(d.pushRequests().map((r) => r.status), [500, 500, 200]);
  assert.equal(records.filter((r) => r.msg.includes('retrying')).length, 2);
  assert.ok(!JSON.stringify(records).includes('json_payload'), 'the payload is never logged');
  d.faults.push({ kind: 'status', status: 502, body: '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx/1.22.1</center></body></html>', contentType: 'text/html' });
  assert.equal(await pushMetadata({ server: d.url, pipeline: 'smoke', payload, logger, backoff: FAST }), 'exists');
  assert.match(JSON.stringify(records.at(-2)), /HTTP 502 502 Bad Gateway/);
  assert.deepEqual(d.duplicates(), []);
});

test('pushMetadata: a connection reset mid-upload is retried with a new body', async () => {
  const d = await double();
  const payload = await bigPayload;
  assert.ok(payload.length > 1_000_000, `payload ${payload.length} bytes`);
  d.faults.push({ kind: 'reset', afterBytes: 256 * 1024 });
  assert.equal(await pushMetadata({ server: d.url, pipeline: 'bench', payload, logger: silentLogger(), backoff: FAST }), 'success');
  const reqs = d.pushRequests();
  assert.equal(reqs[0]!.status, 'reset');
  assert.ok((reqs[0]!.bytes as number) < payload.length, 'the first body was cut off');
  assert.equal(reqs[1]!.status, 200);
  assert.equal(d.uuids('bench').length, 4);
  assert.deepEqual(d.duplicates(), []);
  assert.deepEqual(d.mergeErrors, []);
});

test('pushMetadata: a server slower than the timeout; the retry finds the executions there (exists)', async () => {
  const d = await double();
  const { payload } = await fixture;
  d.faults.push({ kind: 'slow-answer', ms: 2500 });
  const t0 = Date.now();
  assert.equal(await pushMetadata({ server: d.url, pipeline: 'smoke', payload, logger: silentLogger(), timeoutMs: 800, backoff: FAST }), 'exists');
  assert.ok(Date.now() - t0 < 2400, 'the client gave up waiting before the slow answer came');
  assert.equal(d.pushRequests().length, 2);
  assert.deepEqual(d.duplicates(), []);
});

test('pushMetadata: an unreachable server is retried, then a clear error (exit 75)', async () => {
  const d = await double();
  const url = d.url;
  await d.stop();
  await rejects(pushMetadata({ server: url, pipeline: 'smoke', payload: '{}', logger: silentLogger(), retries: 2, backoff: FAST }), /did not take the metadata after 3 attempts \(last: .*ECONNREFUSED/, 75);
});

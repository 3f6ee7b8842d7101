import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { execFileP, FIXTURES, python, REPO, runCli, tempDir } from './helpers.js';
import { runToExit } from './durability-helpers.js';
import { checkUnpacked, recordFixture, sealForTest, sha1Of, untar, type TestWorkspace } from './push-helpers.js';
import { TestBroker, type ConsumedMessage } from './push-rabbitmq.js';
import { push, pushStatus, readDelivery, resolveTarget } from '../src/push/index.js';
import { silentLogger } from '../src/log.js';
import { parseJson, isObject, JsonNumber } from '../src/sources/json.js';

/** The app id in the real pywaggle capture (fixtures/pywaggle-smokeynet/rabbitmq-messages.ndjson). */
const APP_ID = '6c3b7e2a-0000-4000-8000-00000000abcd';
let broker: TestBroker;

before(async () => {
  broker = await TestBroker.start();
});
after(async () => {
  await broker?.dispose();
});
beforeEach(async () => {
  await broker.declareToValidator();
});

interface Setup extends TestWorkspace {
  uploads: string;
  seg: Awaited<ReturnType<typeof sealForTest>>;
}

let template: Promise<TestWorkspace> | undefined;
/** One recorded + sealed workspace, copied per test (watch --once runs once per file). */
async function setup(): Promise<Setup> {
  template ??= (async () => {
    const t = await recordFixture('pywaggle-smokeynet');
    await sealForTest(t.ws, { sealedAt: '2026-12-03T15:34:40.000Z' });
    return t;
  })();
  const base = await template;
  const root = await tempDir('push-w-');
  await execFileP('cp', ['-a', `${base.root}/.`, root]);
  const ws = path.join(root, 'ws');
  const uploads = path.join(root, 'uploads');
  await fsp.mkdir(uploads);
  const seg = { id: '000001', dir: path.join(ws, '.cmf-sage/segments/000001'), manifest: JSON.parse(await fsp.readFile(path.join(ws, '.cmf-sage/segments/000001/manifest.json'), 'utf8')) };
  return { root, ws, logdir: path.join(root, 'logdir'), model: path.join(root, 'model.bin'), uploads, seg };
}

function env(s: { uploads: string }, extra: Record<string, string> = {}): Record<string, string> {
  return { ...broker.amqpEnv, WAGGLE_PLUGIN_UPLOAD_PATH: s.uploads, WAGGLE_APP_ID: APP_ID, ...extra };
}

function pushCli(s: Setup, args: string[] = [], extra: Record<string, string> = {}) {
  return runCli(['push', '--workspace', s.ws, ...args], { env: env(s, extra) });
}

async function targetState(s: Setup) {
  return (await readDelivery(s.seg.dir, '000001')).targets[`waggle:${s.uploads}`];
}

/** What the upload agent would see: `<ts>-<sha1>` folders (its regex), anything else visible too. */
async function visible(uploads: string): Promise<string[]> {
  return (await fsp.readdir(uploads)).sort();
}

const fixtureUpload = readFileSync(path.join(FIXTURES, 'pywaggle-smokeynet', 'rabbitmq-messages.ndjson'), 'utf8')
  .split('\n')
  .filter((l) => l.includes('"name": "upload"'))[0];

/** Every field pywaggle sets, compared with the real capture and rebuilt byte for byte by Python's json. */
async function assertLikePywaggle(m: ConsumedMessage, archive: string): Promise<{ ts: bigint; val: string }> {
  const fx = parseJson(fixtureUpload);
  assert.ok(isObject(fx));
  assert.equal(m.exchange, fx.exchange);
  assert.equal(m.routingKey, fx.routing_key);
  assert.equal(m.properties.deliveryMode, Number((fx.delivery_mode as JsonNumber).raw));
  assert.equal(m.properties.userId, fx.user_id);
  assert.equal(m.properties.appId, fx.app_id);
  assert.equal(m.properties.contentType, undefined); // pika sends none
  const body = m.body.toString('utf8');
  const parsed = parseJson(body);
  assert.ok(isObject(parsed) && isObject(fx.body));
  assert.deepEqual(Object.keys(parsed).sort(), Object.keys(fx.body).sort());
  assert.deepEqual(Object.keys(parsed), ['name', 'ts', 'meta', 'val']); // wagglemsg's order
  const ts = BigInt((parsed.ts as JsonNumber).raw);
  assert.ok(ts > 1796312080879783945n, 'a real ns timestamp');
  const val = parsed.val as string;
  assert.match(val, new RegExp(`^${ts}-[0-9a-f]{40}$`));
  const expected = await python(
    'import json,sys; print(json.dumps({"name":"upload","ts":int(sys.argv[1]),"meta":{"filename":sys.argv[2]},"val":sys.argv[3]}, separators=(",",":")), end="")',
    ts.toString(),
    archive,
    val,
  );
  assert.equal(body, expected);
  return { ts, val };
}

/** The upload folder vs the captured pywaggle layout fixtures/pywaggle-smokeynet/run-waggle-uploads/<ts>-<sha1>/{data,meta}. */
async function assertUploadFolder(uploads: string, ts: bigint, val: string, archive: string): Promise<Buffer> {
  const fxRoot = path.join(FIXTURES, 'pywaggle-smokeynet', 'run-waggle-uploads');
  const fxDir = (await fsp.readdir(fxRoot))[0];
  assert.deepEqual(await visible(uploads), [val]);
  assert.match(val, /^\d{19}-[0-9a-f]{40}$/);
  assert.match(fxDir, /^\d{19}-[0-9a-f]{40}$/);
  assert.deepEqual((await fsp.readdir(path.join(uploads, val))).sort(), (await fsp.readdir(path.join(fxRoot, fxDir))).sort());
  const data = await fsp.readFile(path.join(uploads, val, 'data'));
  assert.equal(sha1Of(data), val.split('-')[1]);
  const meta = await fsp.readFile(path.join(uploads, val, 'meta'), 'utf8');
  const sha1 = val.split('-')[1];
  const expected = await python(
    'import json,sys; print(json.dumps({"labels":{"filename":sys.argv[1]},"shasum":sys.argv[2],"timestamp":int(sys.argv[3])}, sort_keys=True, separators=(",",":")), end="")',
    archive,
    sha1,
    ts.toString(),
  );
  assert.equal(meta, expected);
  // the same form as the captured pywaggle meta, values aside
  const form = (s: string) => s.replace(/"[^"]*"(?=[,}])/g, '"S"').replace(/\d{19}/g, 'TS');
  assert.equal(form(meta), form(await fsp.readFile(path.join(fxRoot, fxDir, 'meta'), 'utf8')));
  return data;
}

test('push --to waggle stages <ts>-<sha1>/{data,meta} and publishes the upload message exactly as pywaggle does', async () => {
  const s = await setup();
  const run = await pushCli(s);
  assert.equal(run.code, 0, run.stderr);
  const archive = 'cmf_archive_smoke_20261203T153440Z_000001.tar.gz';
  assert.match(run.stdout, new RegExp(`delivered ${archive.replace(/\./g, '\\.')} \\(`));
  const msgs = await broker.drain();
  assert.equal(msgs.length, 1);
  const { ts, val } = await assertLikePywaggle(msgs[0], archive);
  const data = await assertUploadFolder(s.uploads, ts, val, archive);
  const st = await targetState(s);
  assert.equal(st.phase, 'confirmed');
  assert.equal(st.ts, ts.toString());
  assert.equal(st.publishes, 1);
  // the uploaded bytes are the archive: a workspace the real tools accept
  const file = path.join(await tempDir('dl-'), archive);
  await fsp.writeFile(file, data);
  await checkUnpacked(await untar(file), s.seg, s.ws);
  // again: nothing more is sent
  const again = await pushCli(s);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /nothing to push \(1 segment\(s\) already delivered to waggle\)/);
  assert.equal((await broker.drain()).length, 0);
  assert.deepEqual(await visible(s.uploads), [val]);
});

test('a missing exchange: one line quoting the broker, exit 69, the segment stays pending and goes out once later', async () => {
  const s = await setup();
  await broker.deleteToValidator();
  const run = await pushCli(s, ['--attempts', '1']);
  assert.equal(run.code, 69);
  const lines = run.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0], /^cmf-sage: .*NOT_FOUND - no exchange 'to-validator' in vhost '\/'/);
  assert.equal((await targetState(s)).phase, 'staged');
  assert.deepEqual((await pushStatus(s.ws)).pending.segments, ['000001']);
  await broker.declareToValidator();
  const ok = await pushCli(s);
  assert.equal(ok.code, 0, ok.stderr);
  const msgs = await broker.drain();
  assert.equal(msgs.length, 1);
  assert.equal((await visible(s.uploads)).length, 1);
  assert.equal((await targetState(s)).phase, 'confirmed');
});

test('a user_id that is not the login user: the broker\'s PRECONDITION_FAILED is quoted, nothing is marked delivered', async () => {
  const s = await setup();
  const target = resolveTarget('waggle', { env: env(s), amqp: { userId: 'other' } });
  const { summary, failure } = await push({ root: s.ws, target, attempts: 2, backoffMs: 50, logger: silentLogger() });
  assert.ok(failure);
  assert.equal(failure.exitCode, 69);
  assert.doesNotMatch(failure.message, /\n/);
  assert.match(failure.message, /PRECONDITION_FAILED - user_id property set to 'other' but authenticated user was 'plugin'/);
  assert.equal(summary.segments[0].status, 'failed');
  assert.equal(summary.error, failure.message);
  assert.notEqual((await targetState(s)).phase, 'confirmed');
  assert.equal((await broker.drain()).length, 0);
  const ok = await pushCli(s);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((await broker.drain()).length, 1);
});

test('no broker listening: exit 69 with one line after the attempts, --json still reports; the next push delivers once', async () => {
  const s = await setup();
  const run = await pushCli(s, ['--attempts', '2', '--json'], { WAGGLE_PLUGIN_PORT: '1' });
  assert.equal(run.code, 69);
  const lines = run.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^cmf-sage: cannot reach the node's RabbitMQ at amqp:\/\/127\.0\.0\.1:1 as "plugin" \(ECONNREFUSED\)/);
  const summary = JSON.parse(run.stdout);
  assert.equal(summary.segments[0].status, 'failed');
  assert.equal(summary.error, lines[0].slice('cmf-sage: '.length));
  // the retry waited (1 s) and logged it
  assert.match(run.stderr, /delivery failed; trying again/);
  const status = await pushStatus(s.ws);
  assert.deepEqual(status.pending.segments, ['000001']);
  assert.deepEqual(status.inProgress, [{ segment: '000001', target: `waggle:${s.uploads}`, phase: 'staged' }]);
  assert.equal(status.lastDelivery, null);
  const staged = await targetState(s);
  const ok = await pushCli(s);
  assert.equal(ok.code, 0, ok.stderr);
  const msgs = await broker.drain();
  assert.equal(msgs.length, 1);
  // the same ts and name as staged before the failure
  assert.ok(msgs[0].body.toString().includes(`"val":"${path.basename(staged.location)}"`));
  const after = await pushStatus(s.ws);
  assert.deepEqual(after.pending, { segments: [], executions: 0, bytes: 0 });
  assert.equal(after.lastDelivery?.segment, '000001');
});

test('the broker restarts mid-push: every segment ends up in the queue exactly once, persistent messages survive', async () => {
  const s = await setup();
  // a second segment
  await fsp.copyFile(path.join(REPO, 'fixtures', 'model', 'smoke-model-v2.bin'), s.model);
  const { addUploads, watchOnce } = await import('./push-helpers.js');
  await addUploads(s.logdir, 2, 1796312095000000000n);
  await watchOnce(s);
  await sealForTest(s.ws);
  // segment 1 confirmed, then killed once segment 2 is staged
  const killed = await runToExit(['push', '--workspace', s.ws], { ...env(s), CMF_SAGE_CRASH_AT: 'push.staged:2' });
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  await broker.restart();
  const ok = await pushCli(s);
  assert.equal(ok.code, 0, ok.stderr);
  const msgs = await broker.drain();
  const vals = msgs.map((m) => /"val":"([^"]+)"/.exec(m.body.toString())![1]);
  assert.equal(msgs.length, 2, vals.join(' '));
  assert.deepEqual(vals.sort(), (await visible(s.uploads)).sort());
  assert.ok(msgs.every((m) => m.properties.deliveryMode === 2));
});

test('kill -9 at every step of a push: the next push completes it; one upload folder, one message (two identical ones only if the kill fell between publish and the recorded confirm)', async () => {
  const points = [
    'push.prepared',
    'push.archive-written',
    'push.staging-written',
    'push.staging',
    'push.renamed',
    'push.staged',
    'push.publishing',
    'push.publish-sent',
    'push.confirm-received',
    'push.confirmed',
  ];
  for (const point of points) {
    const s = await setup();
    await broker.declareToValidator();
    const killed = await runToExit(['push', '--workspace', s.ws], { ...env(s), CMF_SAGE_CRASH_AT: point });
    assert.equal(killed.signal, 'SIGKILL', `${point} was never reached: ${killed.stderr}`);
    const ok = await pushCli(s, ['--json']);
    assert.equal(ok.code, 0, `${point}: ${ok.stderr}`);
    const msgs = await broker.drain();
    const st = await targetState(s);
    assert.equal(st.phase, 'confirmed', point);
    const folders = await visible(s.uploads);
    assert.deepEqual(folders, [path.basename(st.location)], `${point}: the agent sees exactly one complete folder`);
    assert.deepEqual((await fsp.readdir(path.join(s.uploads, folders[0]))).sort(), ['data', 'meta'], point);
    assert.equal(sha1Of(await fsp.readFile(path.join(s.uploads, folders[0], 'data'))), st.sha1, point);
    // drained after both runs: the first run's message (if it got out) plus any re-send
    const expected = point === 'push.confirm-received' ? [2] : point === 'push.publish-sent' ? [1, 2] : [1];
    assert.ok(expected.includes(msgs.length), `${point}: ${msgs.length} message(s) after the retry`);
    assert.ok(msgs.every((m) => m.body.equals(msgs[0].body)), `${point}: a re-sent message is byte-identical`);
    if (msgs.length) assert.ok(msgs[0].body.toString().includes(`"val":"${folders[0]}"`));
    const summary = JSON.parse(ok.stdout);
    if (point === 'push.confirmed') assert.equal(summary.segments.length, 0, 'confirmed before the kill: nothing re-sent');
    else if (point === 'push.confirm-received') assert.equal(summary.segments[0].possibleDuplicate, true);
    await fsp.rm(s.root, { recursive: true, force: true });
  }
});

test('disk full in the upload path: a clear error, nothing the agent could take, and delivery once space is back', async (t) => {
  const s = await setup();
  const mnt = path.join(s.root, 'small');
  await fsp.mkdir(mnt);
  try {
    await execFileP('mount', ['-t', 'tmpfs', '-o', 'size=48k', 'tmpfs', mnt]);
  } catch (err) {
    t.skip(`cannot mount a tmpfs here (needs root): ${(err as Error).message.split('\n')[0]}`);
    return;
  }
  try {
    const run = await pushCli(s, ['--attempts', '2'], { WAGGLE_PLUGIN_UPLOAD_PATH: mnt });
    assert.equal(run.code, 74, run.stderr);
    const lines = run.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
    assert.equal(lines.length, 1);
    assert.match(lines[0], new RegExp(`^cmf-sage: no space left on device while staging the upload in ${mnt}`));
    assert.deepEqual(await fsp.readdir(mnt), [], 'no folder, no partial file, no staging leftovers');
    const st = (await readDelivery(s.seg.dir, '000001')).targets[`waggle:${mnt}`];
    assert.equal(st.phase, 'prepared');
    assert.equal((await broker.drain()).length, 0);
    await execFileP('mount', ['-o', 'remount,size=4m', mnt]);
    const ok = await pushCli(s, [], { WAGGLE_PLUGIN_UPLOAD_PATH: mnt });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(await fsp.readdir(mnt), [path.basename(st.location)], 'the ts chosen before the failure is kept');
    assert.equal((await broker.drain()).length, 1);
  } finally {
    await execFileP('umount', [mnt]).catch(() => undefined);
  }
});

test('--dry-run lists archive, size and counts and writes nothing; precondition errors come before any write', async () => {
  const s = await setup();
  const snapshot = async () => (await execFileP('find', [s.root, '-printf', '%p %s %T@\n'])).stdout;
  const before = await snapshot();
  const run = await pushCli(s, ['--dry-run']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^would send cmf_archive_smoke_20261203T153440Z_000001\.tar\.gz \(\d+\.\d KiB, 1 execution\(s\), 6 result file\(s\), 3 measurement\(s\)\) to waggle: /);
  const json = JSON.parse((await pushCli(s, ['--dry-run', '--json'])).stdout);
  assert.equal(json.dryRun, true);
  assert.equal(json.segments[0].status, 'would-send');
  assert.ok(json.segments[0].size > 1000);
  assert.equal(await snapshot(), before);
  assert.equal((await broker.drain()).length, 0);
  // no WAGGLE_APP_ID: refused before anything is written (the node would drop the message)
  const noApp = await runCli(['push', '--workspace', s.ws], { env: { ...env(s), WAGGLE_APP_ID: '' } });
  assert.equal(noApp.code, 2);
  assert.match(noApp.stderr, /WAGGLE_APP_ID is not set/);
  // no upload path
  const noPath = await pushCli(s, [], { WAGGLE_PLUGIN_UPLOAD_PATH: path.join(s.root, 'missing') });
  assert.equal(noPath.code, 69);
  assert.match(noPath.stderr, /no upload path: .*missing does not exist/);
  assert.equal(await readDelivery(s.seg.dir, '000001').then((d) => Object.keys(d.targets).length), 0);
});

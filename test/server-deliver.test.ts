// Delivery of sealed segments to cmf-server in cmf's order (artifacts → code →
// metadata) with real parts: nginx as the DVC HTTP remote, `git http-backend`
// as cmf_origin, and CmfServerContractDouble (a contract test double of
// cmf-server built from cmf.md §6.3–§6.4, §10). Crashes are real SIGKILLs of a
// child process at the crash points between the steps; faults come from the
// double and a TCP proxy. After each: nothing lost, nothing duplicated, and the
// delivery state says delivered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../src/log.js';
import { listSegments } from '../src/recorder/segment.js';
import { pushStatus } from '../src/push/status.js';
import {
  cmfServerDeliveryStatus,
  cmfServerUrl,
  deliverSegmentToCmfServer,
  deliverToCmfServer,
  formatPlan,
  planCmfServerDelivery,
  readCmfServerState,
  type CmfServerOptions,
} from '../src/server/deliver.js';
import { resolveRemoteToken } from '../src/server/token.js';
import { UserError } from '../src/errors.js';
import { CmfServerContractDouble } from './cmf-server-contract-double.js';
import { git, tempDir } from './helpers.js';
import { FaultProxy, GitHttpServer, NginxDav, nginxBinary } from './server-harness.js';
import { addUploads, recordWorkspace, runChild, seal, watchOnce, type ServerWorkspace } from './server-helpers.js';

const TOKEN = 'dav-token-77';
const GIT = { user: 'sage', token: 'git-token-12' };
const FAST = { baseMs: 5, maxMs: 40 };
const skip = nginxBinary() ? false : 'nginx is not installed (.ci/run installs it)';
const env = { CMF_SAGE_REMOTE_TOKEN: TOKEN, CMF_SAGE_GIT_TOKEN: GIT.token, CMF_SAGE_GIT_USER: GIT.user };

let nginx: NginxDav;
let proxy: FaultProxy;
let gitServer: GitHttpServer;
const doubles: CmfServerContractDouble[] = [];
before(async () => {
  if (skip) return;
  nginx = new NginxDav({ token: TOKEN });
  await nginx.start();
  proxy = new FaultProxy(nginx.port);
  await proxy.start();
  gitServer = new GitHttpServer(await tempDir('server-deliver-git-'), GIT);
  await gitServer.start();
});
after(async () => {
  for (const d of doubles) await d.stop();
  await proxy?.stop();
  await nginx?.stop();
  await gitServer?.stop();
});

async function newDouble(): Promise<CmfServerContractDouble> {
  const d = new CmfServerContractDouble();
  doubles.push(d);
  await d.start();
  return d;
}

interface Setup {
  t: ServerWorkspace;
  bare: { dir: string; url: string };
  double: CmfServerContractDouble;
  /** The DVC remote URL recorded in the workspace: nginx directly or through the fault proxy. */
  remoteUrl: string;
  /** Objects the segments name. */
  objects: string[];
  uuids: string[];
  commits: string[];
}

let n = 0;
async function setup(opts: { viaProxy?: boolean } = {}): Promise<Setup> {
  const remoteUrl = opts.viaProxy ? `http://127.0.0.1:${proxy.port}/remote/r${++n}` : `${nginx.remoteUrl}/r${++n}`;
  const bare = await gitServer.createBare(`repo${n}`);
  const t = await recordWorkspace({ dvcRemote: remoteUrl, gitRemote: bare.url });
  await seal(t.ws);
  const segs = await listSegments(t.ws);
  assert.equal(segs.length, 1);
  const m = segs[0]!.manifest;
  return { t, bare, double: await newDouble(), remoteUrl, objects: m.objects, uuids: m.executions, commits: m.gitEndCommits };
}

function options(s: Setup, extra: Partial<CmfServerOptions> = {}): CmfServerOptions {
  return { workspace: s.t.ws, server: s.double.url, git: true, logger: silentLogger(), env, backoff: FAST, ...extra };
}

/** Every object on the remote, whole; every execution on the server exactly once; the code there; state says delivered. */
async function assertDelivered(s: Setup): Promise<void> {
  const prefix = s.remoteUrl.replace(/^http:\/\/[^/]+\/remote\//, '');
  for (const md5 of s.objects) {
    const stored = (await nginx.storedObjectsUnder(prefix)).find((o) => o.name === md5);
    assert.ok(stored, `object ${md5} is on the remote`);
    assert.equal(stored.md5, md5, `object ${md5} is whole (md5sum on the server side)`);
  }
  assert.deepEqual(s.double.uuids('smoke').sort(), [...s.uuids].sort(), 'every execution is on the server');
  assert.deepEqual(s.double.duplicates(), [], 'no execution merged twice');
  assert.deepEqual(s.double.mergeErrors, [], 'the merge would not have dropped anything');
  for (const c of s.commits) assert.equal((await git(s.bare.dir, 'cat-file', '-t', c)).trim(), 'commit');
  const status = await cmfServerDeliveryStatus({ workspace: s.t.ws, server: s.double.url, git: true, env });
  assert.ok(status.length >= 1 && status.every((x) => x.delivered), JSON.stringify(status));
  // what `status` shows: every segment delivered to this cmf-server, none pending or part way
  const shown = await pushStatus(s.t.ws);
  const target = Object.keys(shown.targets).find((k) => k.startsWith('cmf-server:'));
  assert.ok(target?.includes(new URL(s.double.url).host), JSON.stringify(shown.targets));
  assert.equal(shown.targets[target!]!.delivered, status.length);
  assert.deepEqual(shown.pending.segments, []);
  assert.deepEqual(shown.inProgress, []);
}

test('deliver: artifacts to the DVC remote, code to cmf_origin, metadata to cmf-server; a second run sends nothing; a new segment only itself', { skip }, async () => {
  const s = await setup();
  const plan = await planCmfServerDelivery({ workspace: s.t.ws, server: s.double.url, git: true, env });
  assert.equal(plan.length, 1);
  assert.deepEqual(plan[0]!.objects.map((o) => o.md5).sort(), [...s.objects].sort());
  assert.ok(plan[0]!.objects.every((o) => o.to.startsWith(`${s.remoteUrl}/files/md5/`) && o.size !== null));
  const text = formatPlan(plan);
  assert.match(text, new RegExp(`-> POST ${s.double.url}/api/mlmd_push`));
  assert.match(text, /code: branch mlmd -> http:\/\/127\.0\.0\.1/);
  assert.ok(!text.includes(TOKEN));
  assert.equal(s.double.requests.length, 0, 'the dry run sent nothing');

  const before = (await nginx.accessLog()).length;
  const out = await deliverToCmfServer(options(s));
  assert.equal(out.length, 1);
  assert.equal(out[0]!.metadata, 'success');
  assert.deepEqual(out[0]!.artifacts, { sent: s.objects.length, skipped: 0, bytes: (out[0]!.artifacts as { bytes: number }).bytes });
  assert.equal(typeof out[0]!.git === 'object' && out[0]!.git.pushed, true);
  await assertDelivered(s);
  const state = await readCmfServerState((await listSegments(s.t.ws))[0]!.dir);
  assert.equal(state?.steps.metadata?.status, 'success');
  assert.equal(state?.steps.artifacts?.to, s.remoteUrl);

  assert.deepEqual(await deliverToCmfServer(options(s)), [], 'nothing left to deliver');
  assert.deepEqual(await planCmfServerDelivery({ workspace: s.t.ws, server: s.double.url, git: true, env }), []);
  assert.equal(s.double.pushRequests().length, 1);

  // one more window: a second segment goes, the first is not touched
  await addUploads(s.t.logdir, 3, 1796312300000000000n, 4000, 'second');
  await watchOnce(s.t, { dvcRemote: s.remoteUrl, gitRemote: s.bare.url });
  await seal(s.t.ws);
  const segs = await listSegments(s.t.ws);
  assert.equal(segs.length, 2);
  const out2 = await deliverToCmfServer(options(s));
  assert.deepEqual(out2.map((o) => [o.segment, o.metadata]), [[segs[1]!.manifest.segment, 'success']]);
  s.uuids = [...s.uuids, ...segs[1]!.manifest.executions];
  s.objects = [...new Set([...s.objects, ...segs[1]!.manifest.objects])];
  s.commits = [...s.commits, ...segs[1]!.manifest.gitEndCommits];
  await assertDelivered(s);
  const puts = (await nginx.accessLog()).slice(before).filter((l) => l.method === 'PUT').map((l) => l.uri);
  assert.equal(puts.length, new Set(puts).size, 'no object was uploaded twice');
  assert.equal(puts.length, s.objects.length);
});

for (const point of ['cmf-server.artifacts', 'cmf-server.git', 'cmf-server.metadata']) {
  test(`deliver: kill -9 after the ${point.split('.')[1]} step; the next run resumes and sends nothing twice`, { skip }, async () => {
    const s = await setup();
    const job = { mode: 'deliver', workspace: s.t.ws, server: s.double.url, git: true, backoff: FAST };
    const before = (await nginx.accessLog()).length;
    const crashed = await runChild(job, { ...env, CMF_SAGE_CRASH_AT: point });
    assert.equal(crashed.signal, 'SIGKILL', `the child died at ${point}: ${crashed.stderr}`);
    const segDir = (await listSegments(s.t.ws))[0]!.dir;
    const state = await readCmfServerState(segDir);
    // the step that crashed before its record is not recorded; the earlier ones are
    const order = ['artifacts', 'git', 'metadata'];
    const k = order.indexOf(point.split('.')[1]!);
    for (const [i, step] of order.entries()) assert.equal(Boolean(state?.steps[step as 'git']), i < k, `${step} recorded after a crash at ${point}`);
    // status: still pending, and part way where a step was recorded
    const shown = await pushStatus(s.t.ws);
    assert.deepEqual(shown.pending.segments, [path.basename(segDir)]);
    assert.deepEqual(shown.inProgress, k === 0 ? [] : [{ segment: path.basename(segDir), target: 'cmf-server', phase: `${order[k - 1]}-pushed` }]);

    const rerun = await runChild(job, env);
    assert.equal(rerun.code, 0, rerun.stderr);
    const r = JSON.parse(rerun.stdout.trim()).delivered[0];
    if (point === 'cmf-server.artifacts') assert.deepEqual([r.artifacts.sent, r.artifacts.skipped], [0, s.objects.length], 'objects already there were skipped');
    if (point === 'cmf-server.git') assert.equal(r.git.pushed, false, 'the branch was already there');
    if (point === 'cmf-server.metadata') {
      assert.equal(r.metadata, 'exists', 'the server already had the executions');
      assert.deepEqual(s.double.pushRequests().map((q) => JSON.parse(q.reply ?? '{}').status), ['success', 'exists']);
    }
    await assertDelivered(s);
    const puts = (await nginx.accessLog()).slice(before).filter((l) => l.method === 'PUT');
    assert.equal(puts.length, s.objects.length, 'each object uploaded once across the crash');
  });
}

test('deliver faults: cmf-server 500 then success, a reset mid-upload, a slow server, a rejected token; then delivered', { skip }, async () => {
  const s = await setup({ viaProxy: true });
  // big enough objects that the reset lands mid-upload
  await addUploads(s.t.logdir, 2, 1796312400000000000n, 3 << 20, 'large');
  await watchOnce(s.t, { dvcRemote: s.remoteUrl, gitRemote: s.bare.url });
  await seal(s.t.ws);
  const segs = await listSegments(s.t.ws);
  s.uuids = segs.flatMap((g) => g.manifest.executions);
  s.objects = [...new Set(segs.flatMap((g) => g.manifest.objects))];
  s.commits = segs.flatMap((g) => g.manifest.gitEndCommits);

  // a rejected token: a clear error, nothing recorded as done
  await assert.rejects(deliverToCmfServer(options(s, { env: { ...env, CMF_SAGE_REMOTE_TOKEN: 'stale' } })), (e: unknown) => e instanceof UserError && e.exitCode === 77 && !e.message.includes('stale'));
  assert.equal(await readCmfServerState(segs[0]!.dir), undefined);

  proxy.armReset(1 << 20, 1);
  s.double.faults.push({ kind: 'status', status: 500 }, { kind: 'slow-answer', ms: 2500 });
  const out = await deliverToCmfServer(options(s, { timeoutMs: 700 }));
  assert.equal(out.length, 2);
  assert.ok(proxy.happened.some((h) => h.startsWith('reset')), 'an upload was reset');
  // first segment: 500, then a slow answer (merged) that timed out, then "exists"
  assert.equal(out[0]!.metadata, 'exists');
  assert.equal(out[1]!.metadata, 'success');
  await assertDelivered(s);
});

test('cmfServerUrl: --cmf-server, then CMF_SERVER_URL, then .cmfconfig [cmf] server-url', async () => {
  const ws = await tempDir('server-url-');
  await assert.rejects(cmfServerUrl(ws, undefined, {}), /no cmf-server URL/);
  await fsp.writeFile(path.join(ws, '.cmfconfig'), '[cmf]\nserver-url = http://cmf.example:80/\n\n[osdf]\naccess_token = ~/none\n');
  assert.equal(await cmfServerUrl(ws, undefined, {}), 'http://cmf.example:80');
  assert.equal(await cmfServerUrl(ws, undefined, { CMF_SERVER_URL: 'https://env.example' }), 'https://env.example');
  assert.equal(await cmfServerUrl(ws, 'http://flag.example:8080', { CMF_SERVER_URL: 'https://env.example' }), 'http://flag.example:8080');
  await assert.rejects(cmfServerUrl(ws, 'ftp://x', {}), /must start with http/);
  await assert.rejects(cmfServerUrl(ws, 'not a url', {}), /is not a URL/);
});

test('remote token: env, then --token-file, then .cmfconfig [osdf] access_token file, then the dvc password; never from argv', async () => {
  const ws = await tempDir('server-token-');
  const remote = { name: 'osdf', url: 'https://o.example/x', options: { password: 'Bearer from-dvc-config' } };
  assert.deepEqual(await resolveRemoteToken({ workspace: ws, remote, env: {} }), { token: 'from-dvc-config', source: '.dvc/config remote "osdf" password' });
  await fsp.writeFile(path.join(ws, 'osdf.token'), '  from-cmfconfig-file\n');
  await fsp.writeFile(path.join(ws, '.cmfconfig'), '[cmf]\nserver-url = http://127.0.0.1:80\n\n[osdf]\npath = https://o.example/x\naccess_token = osdf.token\n');
  assert.equal((await resolveRemoteToken({ workspace: ws, remote, env: {} }))?.token, 'from-cmfconfig-file');
  await fsp.writeFile(path.join(ws, 'flag.token'), 'Bearer from-flag-file\n');
  assert.equal((await resolveRemoteToken({ workspace: ws, remote, tokenFile: path.join(ws, 'flag.token'), env: {} }))?.token, 'from-flag-file');
  assert.equal((await resolveRemoteToken({ workspace: ws, remote, tokenFile: path.join(ws, 'flag.token'), env: { CMF_SAGE_REMOTE_TOKEN: 'from-env' } }))?.token, 'from-env');
  await assert.rejects(resolveRemoteToken({ workspace: ws, tokenFile: path.join(ws, 'missing'), env: {} }), /cannot read the token file/);
  assert.equal(await resolveRemoteToken({ workspace: await tempDir('server-token-none-'), env: {} }), undefined);
});

test('deliverSegmentToCmfServer: a local folder remote, no --git; the state names where each step went', async () => {
  const t = await recordWorkspace({ tricky: false });
  await seal(t.ws);
  const d = await newDouble();
  const [seg] = await listSegments(t.ws);
  const r = await deliverSegmentToCmfServer(seg!.dir, { workspace: t.ws, server: d.url, logger: silentLogger() });
  assert.equal(r.git, 'not-requested');
  assert.equal(r.metadata, 'success');
  const remote = `${t.ws}-dvc-remote`;
  for (const md5 of seg!.manifest.objects) await fsp.access(path.join(remote, 'files', 'md5', md5.slice(0, 2), md5.slice(2)));
  const state = await readCmfServerState(seg!.dir);
  assert.equal(state?.steps.artifacts?.to, remote);
  assert.equal(state?.steps.metadata?.to, d.url);
  assert.equal(state?.steps.git, undefined);
  // another server has nothing yet: only the metadata goes there
  const d2 = await newDouble();
  const r2 = await deliverSegmentToCmfServer(seg!.dir, { workspace: t.ws, server: d2.url, logger: silentLogger() });
  assert.equal(r2.artifacts, 'done-before');
  assert.equal(r2.metadata, 'success');
});

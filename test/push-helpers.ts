import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { copyFixture, execFileP, FIXTURES, git, runCli, sqlite, tempDir } from './helpers.js';

/**
 * TEST HELPER, stand-in for the recorder's segment sealing until it lands:
 * turns what `watch --once` recorded into a sealed segment folder as the
 * contract describes it (`.cmf-sage/segments/<seq>/{mlmd,manifest.json}`).
 * The mlmd is the live one minus executions already in earlier segments;
 * the manifest is read back from that mlmd with the sqlite3 CLI and from
 * `git ls-files '*.dvc'` plus the pointer files. The sealed executions are
 * then removed from the live mlmd, as real sealing does (watch is not
 * running here), so `push` (which first asks for closed executions to be
 * sealed) finds nothing more to seal.
 */
export async function sealForTest(ws: string, opts: { sealedAt?: string; pruneLive?: boolean } = {}): Promise<{ id: string; dir: string; manifest: Record<string, any> }> {
  const base = path.join(ws, '.cmf-sage', 'segments');
  await fsp.mkdir(base, { recursive: true });
  const existing = (await fsp.readdir(base)).filter((n) => /^\d{6}$/.test(n)).sort();
  const earlier = new Set<string>();
  for (const id of existing) {
    const m = JSON.parse(await fsp.readFile(path.join(base, id, 'manifest.json'), 'utf8'));
    for (const u of m.executions) earlier.add(u);
  }
  const id = String(existing.length + 1).padStart(6, '0');
  const tmp = path.join(base, `.${id}.tmp`);
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.mkdir(tmp);
  const mlmd = path.join(tmp, 'mlmd');
  await fsp.copyFile(path.join(ws, 'mlmd'), mlmd);
  const drop = [...earlier].map((u) => `'${u}'`).join(',') || "''";
  await removeExecutions(mlmd, `IN (${drop})`);
  const q = (sql: string) => sqlite(mlmd, sql);
  const executions = (await q("SELECT string_value AS u FROM ExecutionProperty WHERE name='Execution_uuid' AND is_custom_property=0 ORDER BY execution_id")).map((r) => String(r.u));
  const count = async (t: string) => Number((await q(`SELECT count(*) AS n FROM Artifact a JOIN Type t ON t.id=a.type_id WHERE t.name='${t}'`))[0].n);
  const ends = (await q("SELECT string_value AS c FROM ExecutionProperty WHERE name='Git_End_Commit' AND is_custom_property=0 AND string_value<>'' ORDER BY execution_id")).map((r) => String(r.c));
  const pipeline = String((await q("SELECT c.name FROM Context c JOIN Type t ON t.id=c.type_id WHERE t.name='Parent_Context'"))[0].name);
  const stageFull = String((await q("SELECT c.name FROM Context c JOIN Type t ON t.id=c.type_id WHERE t.name='Pipeline_Stage'"))[0].name);
  const uris = new Set(
    (await q("SELECT a.uri FROM Artifact a JOIN Type t ON t.id=a.type_id WHERE t.name IN ('Dataset','Model')")).map((r) => String(r.uri)),
  );
  const names = new Set(
    (await q("SELECT a.name FROM Artifact a JOIN Type t ON t.id=a.type_id WHERE t.name IN ('Dataset','Model')")).map((r) => String(r.name).split(':')[0] + '.dvc'),
  );
  const pointers: { path: string; md5: string; size: number }[] = [];
  for (const p of (await git(ws, 'ls-files', '*.dvc')).trim().split('\n').filter(Boolean).sort()) {
    const text = await fsp.readFile(path.join(ws, p), 'utf8');
    const md5 = /md5: "?([0-9a-f]{32})/.exec(text)![1];
    const size = Number(/size: (\d+)/.exec(text)![1]);
    if (uris.has(md5) && names.has(p)) pointers.push({ path: p, md5, size });
  }
  const manifest = {
    segment: id,
    pipeline,
    stage: stageFull.split('/').slice(1).join('/'),
    mlmdName: 'mlmd',
    sealedAt: opts.sealedAt ?? new Date().toISOString(),
    executions,
    counts: { executions: executions.length, Dataset: await count('Dataset'), Model: await count('Model'), Metrics: await count('Metrics') },
    gitEndCommits: [...new Set(ends)],
    pointers,
    objects: [...new Set(pointers.map((p) => p.md5))],
  };
  await fsp.writeFile(path.join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  const dir = path.join(base, id);
  await fsp.rename(tmp, dir);
  // What real sealing does to the live mlmd (watch is not running here).
  if (opts.pruneLive ?? true) await removeExecutions(path.join(ws, 'mlmd'), `IN (${executions.map((u) => `'${u}'`).join(',') || "''"})`);
  return { id, dir, manifest };
}

/** Delete executions (by uuid) with their events and the artifacts nothing links to any more. */
async function removeExecutions(mlmd: string, uuidIn: string): Promise<void> {
  const sel = `IN (SELECT execution_id FROM ExecutionProperty WHERE name='Execution_uuid' AND string_value ${uuidIn})`;
  await execFileP('sqlite3', [
    mlmd,
    `DELETE FROM EventPath WHERE event_id IN (SELECT id FROM Event WHERE execution_id ${sel});
     DELETE FROM Event WHERE execution_id ${sel};
     DELETE FROM Association WHERE execution_id ${sel};
     DELETE FROM Execution WHERE id ${sel};
     DELETE FROM ExecutionProperty WHERE execution_id NOT IN (SELECT id FROM Execution);
     DELETE FROM ArtifactProperty WHERE artifact_id NOT IN (SELECT artifact_id FROM Event);
     DELETE FROM Attribution WHERE artifact_id NOT IN (SELECT artifact_id FROM Event);
     DELETE FROM Artifact WHERE id NOT IN (SELECT artifact_id FROM Event);
     VACUUM;`,
  ]);
}

export interface TestWorkspace {
  root: string;
  ws: string;
  logdir: string;
  model: string;
}

/** A real workspace: `watch --once` over a copy of a pywaggle fixture. */
export async function recordFixture(fixture = 'pywaggle-smokeynet', root?: string): Promise<TestWorkspace> {
  root ??= await tempDir('push-');
  const logdir = await copyFixture(`${fixture}/logdir`, path.join(root, 'logdir'));
  const model = path.join(root, 'model.bin');
  await fsp.copyFile(path.join(FIXTURES, 'model', 'smoke-model-v1.bin'), model);
  const ws = path.join(root, 'ws');
  await watchOnce({ root, ws, logdir, model });
  return { root, ws, logdir, model };
}

export async function watchOnce(t: TestWorkspace, extraEnv: Record<string, string> = {}): Promise<string> {
  const run = await runCli(['watch', '--once', '--pipeline', 'smoke', '--model', t.model, '--results', t.logdir, '--workspace', t.ws], { env: extraEnv });
  if (run.code !== 0) throw new Error(`watch --once failed (${run.code}): ${run.stderr}`);
  return run.stdout;
}

/** Add pywaggle-shaped uploads (file first, then the line), as pywaggle's log-dir mode does. */
export async function addUploads(logdir: string, n: number, startNs: bigint, size = 3000): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const ts = startNs + BigInt(i) * 1_000_000_123n;
    const name = `${ts}-extra.jpg`;
    const body = Buffer.alloc(size, (i * 7 + 3) % 256);
    body.write(`extra ${i} ${ts}`);
    await fsp.writeFile(path.join(logdir, 'uploads', name), body);
    const iso = new Date(Number(ts / 1_000_000n)).toISOString().slice(0, 19) + '.' + ((ts / 1000n) % 1_000_000n).toString().padStart(6, '0') + (ts % 1000n).toString().padStart(3, '0');
    await fsp.appendFile(
      path.join(logdir, 'data.ndjson'),
      `{"meta":{"filename":"extra.jpg"},"name":"upload","timestamp":"${iso}","value":"/plugin/logdir/uploads/${name}"}\n`,
    );
    names.push(name);
  }
  return names;
}

export const sha1Of = (b: Buffer) => createHash('sha1').update(b).digest('hex');
export const md5Of = (b: Buffer) => createHash('md5').update(b).digest('hex');

/**
 * The independent checks an unpacked archive must pass, as for a workspace:
 * sqlite3 (schema 10, integrity, counts and executions = the segment's
 * manifest), every pointer's md5 = md5sum of the object it names and its text
 * = the workspace's committed pointer, `git fsck --full --strict` and
 * `git log`, and manifest.json's sha256 of every file = sha256sum.
 */
export async function checkUnpacked(dir: string, seg: { manifest: Record<string, any> }, ws: string): Promise<Record<string, any>> {
  const m = seg.manifest;
  const mlmd = path.join(dir, m.mlmdName);
  assert.deepEqual(await sqlite(mlmd, 'SELECT schema_version FROM MLMDEnv'), [{ schema_version: 10 }]);
  assert.deepEqual(await sqlite(mlmd, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
  const n = async (t: string) => Number((await sqlite(mlmd, `SELECT count(*) AS n FROM Artifact a JOIN Type t ON t.id=a.type_id WHERE t.name='${t}'`))[0].n);
  assert.deepEqual(
    { executions: Number((await sqlite(mlmd, 'SELECT count(*) AS n FROM Execution'))[0].n), Dataset: await n('Dataset'), Model: await n('Model'), Metrics: await n('Metrics') },
    m.counts,
  );
  const uuids = (await sqlite(mlmd, "SELECT string_value AS u FROM ExecutionProperty WHERE name='Execution_uuid' ORDER BY execution_id")).map((r) => r.u);
  assert.deepEqual(uuids, m.executions);

  const endCommit = m.gitEndCommits[m.gitEndCommits.length - 1];
  for (const p of m.pointers) {
    const text = await fsp.readFile(path.join(dir, p.path), 'utf8');
    const md5 = /md5: "?([0-9a-f]{32})/.exec(text)![1];
    const obj = path.join(dir, '.dvc', 'cache', 'files', 'md5', md5.slice(0, 2), md5.slice(2));
    const sum = (await execFileP('md5sum', [obj])).stdout.split(' ')[0];
    assert.equal(sum, md5, `${p.path} names ${md5} but the object's md5sum is ${sum}`);
    // The same bytes the workspace committed (cmf artifact push reads these files).
    const lastForPath = m.pointers.filter((q: any) => q.path === p.path).pop();
    if (lastForPath.md5 === p.md5) assert.equal(text, await git(ws, 'show', `${endCommit}:${p.path}`));
  }
  await execFileP('git', ['fsck', '--full', '--strict'], { cwd: dir });
  assert.equal((await git(dir, 'rev-parse', 'HEAD')).trim(), endCommit);
  assert.equal((await git(dir, 'rev-parse', '--abbrev-ref', 'HEAD')).trim(), m.mlmdName);
  assert.ok((await git(dir, 'log', '--format=%H %s')).includes(endCommit));

  const inside = JSON.parse(await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8'));
  assert.equal(inside.segment, m.segment);
  assert.equal(inside.pipeline, m.pipeline);
  assert.deepEqual(inside.executions, m.executions);
  assert.deepEqual(inside.counts, m.counts);
  const listed = new Set<string>(inside.files.map((f: { path: string }) => f.path));
  // sha256sum -c reads "<sum>  <path>" lines: the manifest must verify as a whole
  const check = inside.files.map((f: { path: string; sha256: string }) => `${f.sha256}  ${f.path}\n`).join('');
  const sums = await new Promise<string>((resolve, reject) => {
    const child = execFile('sha256sum', ['--strict', '-c', '-'], { cwd: dir }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin!.end(check);
  });
  assert.equal(sums.trim().split('\n').filter((l) => l.endsWith(': OK')).length, inside.files.length);
  const all = (await execFileP('find', ['.', '-type', 'f'], { cwd: dir })).stdout.trim().split('\n').map((p) => p.slice(2));
  assert.deepEqual(all.filter((p) => p !== 'manifest.json').sort(), [...listed].sort());
  return inside;
}

/** Unpack with the real tar CLI into a fresh folder. */
export async function untar(archive: string): Promise<string> {
  const dir = await tempDir('unpacked-');
  await execFileP('tar', ['-xzf', archive, '-C', dir]);
  return dir;
}

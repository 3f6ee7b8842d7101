// `cmf repo push` without git: isomorphic-git pushes the workspace branch to a
// real smart-HTTP server (`git http-backend` on loopback); the git CLI judges
// the remote afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UserError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { pushGit } from '../src/server/git-push.js';
import { git, sqlite, tempDir } from './helpers.js';
import { GitHttpServer } from './server-harness.js';
import { addUploads, recordWorkspace, watchOnce } from './server-helpers.js';

let server: GitHttpServer;
let open: GitHttpServer;
before(async () => {
  server = new GitHttpServer(await tempDir('server-git-root-'), { user: 'sage', token: 'git-tok-1' });
  await server.start();
  open = new GitHttpServer(await tempDir('server-git-open-'));
  await open.start();
});
after(async () => {
  await server?.stop();
  await open?.stop();
});

async function commitsOf(mlmd: string): Promise<string[]> {
  const rows = await sqlite(mlmd, "SELECT DISTINCT string_value AS c FROM ExecutionProperty WHERE name IN ('Git_Start_Commit','Git_End_Commit') AND string_value <> ''");
  return rows.map((r) => String(r.c));
}

test('push the work branch to cmf_origin over smart HTTP with a token; the remote has every commit the metadata names', async () => {
  const bare = await server.createBare('lineage');
  const t = await recordWorkspace({ gitRemote: bare.url, tricky: false });
  const head = (await git(t.ws, 'rev-parse', 'mlmd')).trim();
  const commits = await commitsOf(path.join(t.ws, 'mlmd'));
  assert.ok(commits.length >= 2);
  const r = await pushGit({ workspace: t.ws, token: 'git-tok-1', username: 'sage', requiredCommits: commits, logger: silentLogger() });
  assert.deepEqual({ branch: r.branch, head: r.head, pushed: r.pushed, unreachable: r.unreachable }, { branch: 'mlmd', head, pushed: true, unreachable: [] });
  assert.equal((await git(bare.dir, 'rev-parse', 'refs/heads/mlmd')).trim(), head);
  for (const c of commits) assert.equal((await git(bare.dir, 'cat-file', '-t', c)).trim(), 'commit');
  await git(bare.dir, 'fsck', '--full', '--strict');
  // pointers arrived too
  const files = (await git(bare.dir, 'ls-tree', '-r', '--name-only', 'mlmd')).split('\n');
  assert.ok(files.some((f) => f.startsWith('results/') && f.endsWith('.dvc')));
  assert.equal((await git(t.ws, 'rev-parse', 'refs/remotes/cmf_origin/mlmd')).trim(), head, 'remote-tracking ref updated');

  // nothing new: nothing pushed
  const again = await pushGit({ workspace: t.ws, token: 'git-tok-1', username: 'sage', logger: silentLogger() });
  assert.equal(again.pushed, false);

  // new results, new commits: a fast-forward push
  await addUploads(t.logdir, 2, 1796312200000000000n, 2000, 'more');
  await watchOnce(t);
  const head2 = (await git(t.ws, 'rev-parse', 'mlmd')).trim();
  const r2 = await pushGit({ workspace: t.ws, token: 'git-tok-1', username: 'sage', logger: silentLogger() });
  assert.equal(r2.pushed, true);
  assert.equal((await git(bare.dir, 'rev-parse', 'refs/heads/mlmd')).trim(), head2);
  await git(bare.dir, 'fsck', '--full', '--strict');
});

test('git: a wrong token is a clear error (exit 77); a diverged remote is never force-pushed; ssh is refused', async () => {
  const bare = await server.createBare('refusals');
  const t = await recordWorkspace({ gitRemote: bare.url, tricky: false });
  await assert.rejects(pushGit({ workspace: t.ws, token: 'nope', username: 'sage', logger: silentLogger() }), (e: unknown) => e instanceof UserError && e.exitCode === 77 && /refused the git credentials \(HTTP 401\)/.test(e.message) && !e.message.includes('nope'));
  await assert.rejects(pushGit({ workspace: t.ws, logger: silentLogger(), env: {} }), (e: unknown) => e instanceof UserError && e.exitCode === 77);

  // someone else pushed another history to the same branch
  const other = await tempDir('server-git-other-');
  await git(other, 'init', '-q', '-b', 'mlmd');
  await fsp.writeFile(path.join(other, 'x'), 'x');
  await git(other, 'add', 'x');
  await git(other, '-c', 'user.name=o', '-c', 'user.email=o@x', 'commit', '-q', '-m', 'other');
  await git(other, '-c', 'http.extraHeader=Authorization: Basic ' + Buffer.from('sage:git-tok-1').toString('base64'), 'push', '-q', bare.url, 'mlmd');
  await assert.rejects(pushGit({ workspace: t.ws, token: 'git-tok-1', username: 'sage', logger: silentLogger() }), /never force-pushes/);

  await assert.rejects(pushGit({ workspace: t.ws, remote: 'ssh://git@example.invalid/x.git', logger: silentLogger() }), /over HTTP\(S\) only/);
});

test('git: a server without auth, token from CMF_SAGE_GIT_TOKEN ignored there; no cmf_origin is a clear error', async () => {
  const bare = await open.createBare('plain');
  const t = await recordWorkspace({ gitRemote: bare.url, tricky: false });
  const r = await pushGit({ workspace: t.ws, logger: silentLogger(), env: { CMF_SAGE_GIT_TOKEN: 'unused' } });
  assert.equal(r.pushed, true);
  const t2 = await recordWorkspace({ tricky: false });
  await assert.rejects(pushGit({ workspace: t2.ws, logger: silentLogger() }), /has no git remote "cmf_origin"/);
});

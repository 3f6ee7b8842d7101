import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { WorkspaceRepo } from '../src/git/index.js';
import { silentLogger } from '../src/log.js';
import { fsck, gitSync, tempDir } from './git-helpers.js';
const URL1 = 'https://example.com/team/project.git';
const URL2 = 'https://example.com/team/other.git';
test('init creates the repo the way cmf does and the git CLI accepts it', async () => {
    const dir = await tempDir('init');
    const repo = new WorkspaceRepo(dir, { logger: silentLogger() });
    assert.deepEqual(await repo.init({ branch: 'mlmd', remoteUrl: URL1 }), { created: true });
    const f = fsck(dir);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(gitSync(dir, 'log', '--format=%s', 'master').stdout.trim(), 'Initial code commit');
    assert.equal(gitSync(dir, 'rev-parse', '--abbrev-ref', 'HEAD').stdout.trim(), 'mlmd');
    assert.equal(gitSync(dir, 'rev-parse', 'HEAD').stdout.trim(), gitSync(dir, 'rev-parse', 'master').stdout.trim());
    assert.equal(gitSync(dir, 'config', 'core.filemode').stdout.trim(), 'true');
    assert.equal(gitSync(dir, 'config', 'core.symlinks').stdout.trim(), 'true');
    assert.equal(gitSync(dir, 'config', 'core.ignorecase').stdout.trim(), 'false');
    assert.equal(gitSync(dir, 'remote', 'get-url', 'cmf_origin').stdout.trim(), URL1);
    assert.equal(await repo.head(), gitSync(dir, 'rev-parse', 'HEAD').stdout.trim());
    // No leftover temp git dir in the workspace.
    assert.deepEqual((await fsp.readdir(dir)).sort(), ['.git']);
});
test('a second init changes nothing; a new remote url is applied', async () => {
    const dir = await tempDir('init2');
    await new WorkspaceRepo(dir, { logger: silentLogger() }).init({ branch: 'mlmd', remoteUrl: URL1 });
    const head = gitSync(dir, 'rev-parse', 'HEAD').stdout;
    const config = await fsp.readFile(path.join(dir, '.git', 'config'), 'utf8');
    const headFile = await fsp.readFile(path.join(dir, '.git', 'HEAD'), 'utf8');
    const again = new WorkspaceRepo(dir, { logger: silentLogger() });
    assert.deepEqual(await again.init({ branch: 'mlmd', remoteUrl: URL1 }), { created: false });
    assert.equal(gitSync(dir, 'rev-parse', 'HEAD').stdout, head);
    assert.equal(await fsp.readFile(path.join(dir, '.git', 'config'), 'utf8'), config);
    assert.equal(await fsp.readFile(path.join(dir, '.git', 'HEAD'), 'utf8'), headFile);
    await again.init({ branch: 'mlmd', remoteUrl: URL2 });
    assert.equal(gitSync(dir, 'remote', 'get-url', 'cmf_origin').stdout.trim(), URL2);
    assert.equal(gitSync(dir, 'remote').stdout.trim(), 'cmf_origin');
});
test('init on an existing repo switches to the branch without resetting it', async () => {
    const dir = await tempDir('init3');
    const repo = new WorkspaceRepo(dir, { logger: silentLogger() });
    await repo.init({ branch: 'mlmd' });
    await fsp.writeFile(path.join(dir, 'a.dvc'), 'outs: []\n');
    const work = await repo.commit(['a.dvc'], 'work');
    // Another branch created at HEAD, then back: mlmd keeps its commit.
    await repo.init({ branch: 'other' });
    assert.equal(gitSync(dir, 'rev-parse', '--abbrev-ref', 'HEAD').stdout.trim(), 'other');
    assert.equal(gitSync(dir, 'rev-parse', 'other').stdout.trim(), work);
    await repo.init({ branch: 'mlmd' });
    assert.equal(gitSync(dir, 'rev-parse', '--abbrev-ref', 'HEAD').stdout.trim(), 'mlmd');
    assert.equal(gitSync(dir, 'rev-parse', 'mlmd').stdout.trim(), work);
    assert.equal(fsck(dir).code, 0);
});
test('init adopts a repo made by the git CLI (including one with no commit yet)', async () => {
    const dir = await tempDir('init4');
    assert.equal(gitSync(dir, 'init', '-q', '-b', 'main').code, 0);
    const repo = new WorkspaceRepo(dir, { logger: silentLogger() });
    assert.deepEqual(await repo.init({ branch: 'mlmd', remoteUrl: URL1 }), { created: false });
    assert.equal(gitSync(dir, 'log', '--format=%s', 'master').stdout.trim(), 'Initial code commit');
    assert.equal(gitSync(dir, 'rev-parse', '--abbrev-ref', 'HEAD').stdout.trim(), 'mlmd');
    assert.equal(gitSync(dir, 'remote', 'get-url', 'cmf_origin').stdout.trim(), URL1);
    assert.equal(fsck(dir).code, 0);
});
test('init refuses a bad branch name with a one-line error', async () => {
    const dir = await tempDir('init5');
    const repo = new WorkspaceRepo(dir, { logger: silentLogger() });
    await assert.rejects(repo.init({ branch: 'bad name..' }), { name: 'UserError' });
});
test('init switches to an existing branch at another commit with a real checkout', async () => {
    const dir = await tempDir('init6');
    const repo = new WorkspaceRepo(dir, { logger: silentLogger() });
    await repo.init({ branch: 'mlmd' });
    await fsp.writeFile(path.join(dir, 'a.dvc'), 'outs: [a]\n');
    const onMlmd = await repo.commit(['a.dvc'], 'on mlmd');
    await repo.init({ branch: 'other' });
    await fsp.writeFile(path.join(dir, 'a.dvc'), 'outs: [b]\n');
    const onOther = await repo.commit(['a.dvc'], 'on other');
    await repo.init({ branch: 'mlmd' });
    assert.equal(gitSync(dir, 'rev-parse', '--abbrev-ref', 'HEAD').stdout.trim(), 'mlmd');
    assert.equal(gitSync(dir, 'rev-parse', 'mlmd').stdout.trim(), onMlmd);
    assert.equal(gitSync(dir, 'rev-parse', 'other').stdout.trim(), onOther);
    assert.equal(await fsp.readFile(path.join(dir, 'a.dvc'), 'utf8'), 'outs: [a]\n');
    assert.equal(gitSync(dir, 'status', '--porcelain').stdout, '');
    assert.equal(fsck(dir).code, 0);
});
//# sourceMappingURL=git-init.test.js.map
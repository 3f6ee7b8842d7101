import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { WorkspaceRepo } from '../src/git/index.js';
import { silentLogger } from '../src/log.js';
import { fsck, gitSync, pointerText, tempDir, writePointer } from './git-helpers.js';
function nestedPaths(n) {
    return Array.from({ length: n }, (_, i) => `data/set${i % 7}/part${i % 3}/file${i}.csv.dvc`);
}
test('one commit of 100 pointer files in nested dirs', async () => {
    const dir = await tempDir('commit');
    const repo = new WorkspaceRepo(dir, { logger: silentLogger() });
    await repo.init({ branch: 'mlmd' });
    const paths = nestedPaths(100);
    for (const p of paths)
        await writePointer(dir, p);
    const before = await repo.head();
    const sha = await repo.commit(paths, ' commiting 1,Prepare');
    assert.notEqual(sha, before);
    assert.equal(gitSync(dir, 'rev-parse', 'HEAD').stdout.trim(), sha);
    assert.equal(gitSync(dir, 'rev-parse', 'HEAD^').stdout.trim(), before);
    assert.equal(gitSync(dir, 'log', '-1', '--format=%B').stdout, ' commiting 1,Prepare\n\n');
    assert.equal(gitSync(dir, 'ls-files').stdout.trim().split('\n').length, 100);
    assert.equal(gitSync(dir, 'status', '--porcelain').stdout, '');
    for (const p of [paths[0], paths[57], paths[99]]) {
        assert.equal(gitSync(dir, 'show', `HEAD:${p}`).stdout, pointerText(p));
    }
    assert.equal(fsck(dir).code, 0);
    assert.deepEqual((await repo.listFiles()).sort(), [...paths].sort());
    assert.deepEqual(await repo.listFiles('HEAD', 'data/set3'), (await repo.listFiles()).filter((f) => f.startsWith('data/set3/')));
    assert.equal(await repo.isTracked(paths[5]), true);
    assert.equal(await repo.isTracked('data/nope.dvc'), false);
});
test('no change returns the same sha; edits and deletions are committed', async () => {
    const dir = await tempDir('commit2');
    const repo = new WorkspaceRepo(dir, { logger: silentLogger() });
    await repo.init({ branch: 'mlmd' });
    const paths = nestedPaths(10);
    for (const p of paths)
        await writePointer(dir, p);
    const first = await repo.commit(paths, 'first');
    assert.equal(await repo.commit(paths, 'again'), first);
    assert.equal(await repo.commit([], 'nothing'), first);
    assert.equal(gitSync(dir, 'rev-list', '--count', 'HEAD').stdout.trim(), '2');
    await writePointer(dir, paths[1], 'changed');
    const second = await repo.commit([paths[1]], 'edit');
    assert.notEqual(second, first);
    assert.equal(gitSync(dir, 'show', `HEAD:${paths[1]}`).stdout, pointerText('changed'));
    await fsp.rm(path.join(dir, paths[2]));
    const third = await repo.commit([paths[2], paths[3]], 'delete one');
    assert.notEqual(third, second);
    assert.ok(!(await repo.listFiles()).includes(paths[2]));
    assert.equal(await repo.isTracked(paths[2]), false);
    assert.equal(gitSync(dir, 'ls-files').stdout.trim().split('\n').length, 9);
    assert.equal(gitSync(dir, 'status', '--porcelain').stdout, '');
    // Deleting an already-deleted path again is "no change".
    assert.equal(await repo.commit([paths[2]], 'again'), third);
    assert.equal(fsck(dir).code, 0);
});
test('a .gitignore rule does not silently drop a named path', async () => {
    const dir = await tempDir('commit3');
    const repo = new WorkspaceRepo(dir, { logger: silentLogger() });
    await repo.init({ branch: 'mlmd' });
    await fsp.writeFile(path.join(dir, '.gitignore'), '*.dvc\n');
    await writePointer(dir, 'x.dvc');
    await repo.commit(['x.dvc', '.gitignore'], 'c');
    assert.deepEqual((await repo.listFiles()).sort(), ['.gitignore', 'x.dvc']);
});
test('paths outside the workspace are refused with a UserError', async () => {
    const dir = await tempDir('commit4');
    const repo = new WorkspaceRepo(dir, { logger: silentLogger() });
    await repo.init({ branch: 'mlmd' });
    await assert.rejects(repo.commit(['../x.dvc'], 'c'), { name: 'UserError' });
    await assert.rejects(repo.commit(['.git/config'], 'c'), { name: 'UserError' });
    // Absolute paths inside the workspace are accepted.
    await writePointer(dir, 'abs.dvc');
    await repo.commit([path.join(dir, 'abs.dvc')], 'c');
    assert.deepEqual(await repo.listFiles(), ['abs.dvc']);
});
//# sourceMappingURL=git-commit.test.js.map
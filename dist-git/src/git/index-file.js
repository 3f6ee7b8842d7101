import { promises as fsp } from 'node:fs';
import path from 'node:path';
import git from 'isomorphic-git';
import { GitIndexManager } from 'isomorphic-git/managers';
import { FileSystem } from 'isomorphic-git/models';
import { gitArgs } from './context.js';
function acquire(ctx, fn) {
    const a = gitArgs(ctx);
    // FileSystem wraps our adapter the same way isomorphic-git's API functions do.
    const fs = new FileSystem(a.fs);
    return GitIndexManager.acquire({ fs, gitdir: a.gitdir, cache: a.cache }, (index) => fn(index));
}
/** Drop these paths (files, or everything under a directory path) from the index; `git rm --cached`. */
export async function removeFromIndex(ctx, paths) {
    await acquire(ctx, (index) => {
        const prefixes = paths.map((p) => `${p}/`);
        const doomed = index.entries
            .map((e) => e.path)
            .filter((p) => paths.includes(p) || prefixes.some((pre) => p.startsWith(pre)));
        // Deleting nothing would still mark the index dirty and rewrite it.
        for (const filepath of doomed)
            index.delete({ filepath });
    });
}
/**
 * Replace the index with the entries of a commit's tree, like `git read-tree`.
 * Stats are zero so that both git and isomorphic-git re-hash each file on the
 * next status instead of trusting a stat that was never taken.
 */
export async function rebuildIndexFromCommit(ctx, sha) {
    const a = gitArgs(ctx);
    const files = [];
    await git.walk({
        ...a,
        cache: {},
        trees: [git.TREE({ ref: sha })],
        map: async (filepath, [entry]) => {
            if (!entry || filepath === '.')
                return true;
            if ((await entry.type()) === 'blob') {
                files.push({ filepath, oid: await entry.oid(), mode: await entry.mode() });
            }
            return true;
        },
    });
    // A corrupt index cannot be loaded to be cleared: set it aside (kept for a post-mortem).
    await fsp.rename(path.join(ctx.gitdir, 'index'), path.join(ctx.gitdir, 'index.corrupt')).catch(() => undefined);
    await acquire(ctx, (index) => {
        index.clear();
        for (const f of files) {
            index.insert({
                filepath: f.filepath,
                oid: f.oid,
                stats: { ctimeSeconds: 0, ctimeNanoseconds: 0, mtimeSeconds: 0, mtimeNanoseconds: 0, dev: 0, ino: 0, mode: f.mode, uid: 0, gid: 0, size: 0 },
            });
        }
    });
    return files.length;
}
/** Is this path an entry of the index (`git ls-files --error-unmatch`)? */
export function indexHas(ctx, filepath) {
    return acquire(ctx, (index) => index.has({ filepath }));
}
//# sourceMappingURL=index-file.js.map
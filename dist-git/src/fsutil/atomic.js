import { promises as fsp, constants as fsc } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
/** A temp name in the same directory, so rename() stays on one file system. */
export function tempPathFor(target) {
    return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
}
/** fsync a directory so that a rename or create inside it survives power loss. */
export async function fsyncDir(dir) {
    let fh;
    try {
        fh = await fsp.open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
        await fh.sync();
    }
    catch (err) {
        // Some file systems refuse fsync on directories (EINVAL); nothing more can be done there.
        if (err.code !== 'EINVAL')
            throw err;
    }
    finally {
        await fh?.close();
    }
}
/**
 * Replace `target` with `data` so that a reader or a crash sees either the old
 * or the new content, never a mix: write a temp file beside it, fsync, rename
 * over the target, fsync the directory.
 */
export async function writeFileAtomic(target, data, opts = {}) {
    const sync = opts.fsync ?? true;
    const tmp = tempPathFor(target);
    let fh;
    try {
        fh = await fsp.open(tmp, 'wx', opts.mode ?? 0o644);
        await fh.writeFile(data);
        if (sync)
            await fh.sync();
        await fh.close();
        fh = undefined;
        await fsp.rename(tmp, target);
    }
    catch (err) {
        await fh?.close().catch(() => undefined);
        await fsp.rm(tmp, { force: true }).catch(() => undefined);
        throw err;
    }
    if (sync)
        await fsyncDir(path.dirname(target));
}
/** Remove temp files a crash left behind (names made by tempPathFor). */
export async function removeStaleTemps(dir) {
    let removed = 0;
    let names;
    try {
        names = await fsp.readdir(dir);
    }
    catch {
        return 0;
    }
    for (const name of names) {
        if (name.startsWith('.') && name.endsWith('.tmp')) {
            await fsp.rm(path.join(dir, name), { force: true });
            removed++;
        }
    }
    return removed;
}
//# sourceMappingURL=atomic.js.map
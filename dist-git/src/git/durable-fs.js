import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fsyncDir, tempPathFor } from '../fsutil/atomic.js';
const LOOSE_OBJECT = /[\\/]objects[\\/][0-9a-f]{2}[\\/][0-9a-f]{38}$/;
export function createDurableFs(opts = {}) {
    const sync = opts.fsync ?? true;
    const counters = { writes: 0, fileSyncs: 0, dirSyncs: 0 };
    // Directories with new entries (objects, object dirs) not yet fsynced.
    let pending = new Set();
    async function barrier() {
        if (!sync || pending.size === 0)
            return;
        const dirs = [...pending];
        pending = new Set();
        try {
            await Promise.all(dirs.map((d) => fsyncDir(d).catch(ignoreVanished)));
            counters.dirSyncs += dirs.length;
        }
        catch (err) {
            // Keep them pending so the next barrier retries before a ref moves.
            for (const d of dirs)
                pending.add(d);
            throw err;
        }
    }
    async function writeFile(p, data, wopts) {
        const isObject = LOOSE_OBJECT.test(p);
        // Everything that is not an object may name objects: they go to disk first.
        if (!isObject)
            await barrier();
        const encoding = typeof wopts === 'string' ? wopts : (wopts?.encoding ?? undefined);
        const mode = (typeof wopts === 'object' && wopts?.mode) || (isObject ? 0o444 : 0o666);
        const dir = path.dirname(p);
        const tmp = isObject ? path.join(dir, `tmp_obj_${randomBytes(6).toString('hex')}`) : tempPathFor(p);
        let fh;
        try {
            fh = await fsp.open(tmp, 'wx', mode);
            await fh.writeFile(data, encoding ? { encoding } : undefined);
            if (sync) {
                await fh.sync();
                counters.fileSyncs++;
            }
            await fh.close();
            fh = undefined;
            await fsp.rename(tmp, p);
        }
        catch (err) {
            await fh?.close().catch(() => undefined);
            await fsp.rm(tmp, { force: true }).catch(() => undefined);
            throw err; // ENOENT here makes isomorphic-git mkdir the parent and retry
        }
        counters.writes++;
        if (isObject)
            pending.add(dir);
        else if (sync) {
            await fsyncDir(dir);
            counters.dirSyncs++;
        }
    }
    const promises = {
        readFile: (p, o) => fsp.readFile(p, o),
        writeFile,
        unlink: (p) => fsp.unlink(p),
        readdir: (p) => fsp.readdir(p),
        async mkdir(p, o) {
            await fsp.mkdir(p, o);
            // The new directory's entry in its parent must be durable before a ref names what is inside.
            pending.add(path.dirname(p));
        },
        rmdir: (p) => fsp.rmdir(p),
        rm: (p, o) => fsp.rm(p, o),
        stat: (p) => fsp.stat(p),
        lstat: (p) => fsp.lstat(p),
        readlink: (p, o) => fsp.readlink(p, o),
        symlink: (t, p) => fsp.symlink(t, p),
        chmod: (p, m) => fsp.chmod(p, m),
    };
    return { promises, barrier, counters };
}
/**
 * A git gc run by the CLI meanwhile may pack loose objects and remove their
 * emptied directory: what was in it is then in a pack that gc synced itself.
 */
function ignoreVanished(err) {
    if (err.code !== 'ENOENT')
        throw err;
}
//# sourceMappingURL=durable-fs.js.map
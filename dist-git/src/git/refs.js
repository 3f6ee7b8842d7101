import { promises as fsp } from 'node:fs';
import path from 'node:path';
const SHA = /^[0-9a-f]{40}$/;
export function isSha(s) {
    return SHA.test(s);
}
export async function readHead(gitdir) {
    let text;
    try {
        text = await fsp.readFile(path.join(gitdir, 'HEAD'), 'utf8');
    }
    catch (err) {
        if (err.code === 'ENOENT')
            return { kind: 'broken', reason: 'is missing' };
        throw err;
    }
    const line = text.trim();
    if (line === '')
        return { kind: 'broken', reason: 'is empty' };
    const m = /^ref: (refs\/\S+)$/.exec(line);
    if (m)
        return { kind: 'symbolic', ref: m[1] };
    if (isSha(line))
        return { kind: 'detached', sha: line };
    return { kind: 'broken', reason: 'holds neither a ref nor a commit id' };
}
export async function readRef(gitdir, ref) {
    try {
        const line = (await fsp.readFile(path.join(gitdir, ref), 'utf8')).trim();
        if (line === '')
            return { kind: 'broken', reason: 'is empty' };
        if (!isSha(line))
            return { kind: 'broken', reason: 'does not hold a commit id' };
        return { kind: 'ok', sha: line };
    }
    catch (err) {
        const code = err.code;
        if (code !== 'ENOENT' && code !== 'EISDIR')
            throw err;
    }
    const packed = await readPackedRefs(gitdir);
    const sha = packed.get(ref);
    return sha ? { kind: 'ok', sha } : { kind: 'missing' };
}
async function readPackedRefs(gitdir) {
    const out = new Map();
    let text;
    try {
        text = await fsp.readFile(path.join(gitdir, 'packed-refs'), 'utf8');
    }
    catch {
        return out;
    }
    for (const line of text.split('\n')) {
        const m = /^([0-9a-f]{40}) (refs\/\S+)$/.exec(line);
        if (m)
            out.set(m[2], m[1]);
    }
    return out;
}
/** Any branch at all (loose or packed)? Distinguishes a freshly `git init`ed repo from a broken one. */
export async function hasAnyBranch(gitdir) {
    if ((await readPackedRefs(gitdir)).size > 0)
        return true;
    const walk = async (d) => {
        let names;
        try {
            names = await fsp.readdir(d, { withFileTypes: true });
        }
        catch {
            return false;
        }
        for (const n of names) {
            if (n.name.startsWith('.') || n.name.endsWith('.lock'))
                continue;
            if (n.isFile() || (n.isDirectory() && (await walk(path.join(d, n.name)))))
                return true;
        }
        return false;
    };
    return walk(path.join(gitdir, 'refs', 'heads'));
}
/** Replace a ref durably (temp + fsync + rename + dir fsync, after pending objects are synced). */
export async function writeRefDurably(ctx, ref, sha) {
    const file = path.join(ctx.gitdir, ref);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await ctx.durable.promises.writeFile(file, `${sha}\n`, 'utf8');
}
export async function writeHeadDurably(ctx, branch) {
    await ctx.durable.promises.writeFile(path.join(ctx.gitdir, 'HEAD'), `ref: refs/heads/${branch}\n`, 'utf8');
}
/** Branch names git accepts (a subset of check-ref-format, enough to refuse surprises). */
export function isValidBranchName(name) {
    if (name === '' || name === '@' || name.startsWith('-') || name.startsWith('/') || name.endsWith('/'))
        return false;
    if (name.endsWith('.') || name.endsWith('.lock') || name.includes('..') || name.includes('//') || name.includes('@{'))
        return false;
    if (/[\x00-\x20\x7f~^:?*[\\]/.test(name))
        return false;
    return name.split('/').every((part) => part !== '' && !part.startsWith('.') && !part.endsWith('.lock'));
}
//# sourceMappingURL=refs.js.map
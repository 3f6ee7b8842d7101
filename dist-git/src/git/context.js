import path from 'node:path';
export function makeCtx(dir, durable, cache = {}) {
    return { durable, dir, gitdir: path.join(dir, '.git'), cache };
}
/** The argument block for isomorphic-git calls. */
export function gitArgs(ctx) {
    return { fs: { promises: ctx.durable.promises }, dir: ctx.dir, gitdir: ctx.gitdir, cache: ctx.cache };
}
//# sourceMappingURL=context.js.map
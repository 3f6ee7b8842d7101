import path from 'node:path';
import type { DurableFs, DurableFsPromises } from './durable-fs.js';

/** What every isomorphic-git call needs: one fs adapter and one shared cache per repo. */
export interface GitCtx {
  durable: DurableFs;
  dir: string;
  gitdir: string;
  cache: object;
}

export interface GitArgs {
  fs: { promises: DurableFsPromises };
  dir: string;
  gitdir: string;
  cache: object;
}

export function makeCtx(dir: string, durable: DurableFs, cache: object = {}): GitCtx {
  return { durable, dir, gitdir: path.join(dir, '.git'), cache };
}

/** The argument block for isomorphic-git calls. */
export function gitArgs(ctx: GitCtx): GitArgs {
  return { fs: { promises: ctx.durable.promises }, dir: ctx.dir, gitdir: ctx.gitdir, cache: ctx.cache };
}

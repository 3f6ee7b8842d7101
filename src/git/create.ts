import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import git from 'isomorphic-git';
import { fsyncDir } from '../fsutil/atomic.js';
import { gitArgs, type GitCtx } from './context.js';
import { writeHeadDurably, writeRefDurably } from './refs.js';

export const INITIAL_MESSAGE = 'Initial code commit';
export const REMOTE_NAME = 'cmf_origin';
const INIT_PREFIX = '.cmf-sage-git-init-';

/** isomorphic-git's init writes Windows-ish values; these make the git CLI behave normally on Linux. */
const CORE_CONFIG: [string, boolean][] = [
  ['core.filemode', true],
  ['core.symlinks', true],
  ['core.ignorecase', false],
];

export interface Author {
  name: string;
  email: string;
}

/**
 * Create `dir/.git` the way `cmf init` does (init, branch master, an empty
 * commit "Initial code commit", remote cmf_origin, then the work branch),
 * but build it in a temp directory beside it and rename it into place: a
 * crash part way leaves no half-made `.git`, so "`.git` exists" always means
 * "initialised". Returns false if someone else created `.git` meanwhile.
 */
export async function createRepo(
  base: GitCtx,
  opts: { branch: string; remoteUrl?: string; author: Author },
): Promise<boolean> {
  const tmpGitdir = path.join(base.dir, INIT_PREFIX + randomBytes(6).toString('hex'));
  const ctx: GitCtx = { ...base, gitdir: tmpGitdir, cache: {} };
  const a = gitArgs(ctx);
  try {
    await git.init({ fs: a.fs, dir: a.dir, gitdir: a.gitdir, defaultBranch: 'master' });
    for (const [key, value] of CORE_CONFIG) await git.setConfig({ ...a, path: key, value });
    if (opts.remoteUrl) await git.addRemote({ ...a, remote: REMOTE_NAME, url: opts.remoteUrl });
    const when = { ...opts.author, timestamp: Math.floor(Date.now() / 1000) };
    const sha = await git.commit({ ...a, message: INITIAL_MESSAGE, author: when, committer: when, ref: 'refs/heads/master' });
    if (opts.branch !== 'master') {
      await writeRefDurably(ctx, `refs/heads/${opts.branch}`, sha);
      await writeHeadDurably(ctx, opts.branch);
    }
    await ctx.durable.barrier();
    await fsp.rename(tmpGitdir, path.join(base.dir, '.git'));
  } catch (err) {
    await fsp.rm(tmpGitdir, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
    throw err;
  }
  await fsyncDir(base.dir);
  return true;
}

/** Remove temp git dirs that a crash during createRepo left in the workspace. */
export async function removeAbandonedInits(dir: string): Promise<void> {
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
    if (name.startsWith(INIT_PREFIX)) await fsp.rm(path.join(dir, name), { recursive: true, force: true });
  }
}

/** Add remote cmf_origin, or change its url; no write when it is already right. */
export async function ensureRemote(ctx: GitCtx, url: string): Promise<void> {
  const a = gitArgs(ctx);
  const current = (await git.getConfig({ ...a, path: `remote.${REMOTE_NAME}.url` })) as string | undefined;
  if (current === url) return;
  if (current === undefined) await git.addRemote({ ...a, remote: REMOTE_NAME, url });
  else await git.setConfig({ ...a, path: `remote.${REMOTE_NAME}.url`, value: url });
}

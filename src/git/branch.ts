import git from 'isomorphic-git';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { gitArgs, type GitCtx } from './context.js';
import { INITIAL_MESSAGE, type Author } from './create.js';
import { hasAnyBranch, readHead, readRef, writeHeadDurably, writeRefDurably } from './refs.js';

/**
 * Put HEAD on `branch` in an existing repository, like cmf's
 * `git checkout -B <branch>` except that an existing branch is never reset:
 * - HEAD already there: nothing;
 * - branch missing: create it at HEAD's commit and point HEAD at it;
 * - branch exists at HEAD's commit: point HEAD at it;
 * - branch exists elsewhere: a real checkout (index and work tree follow;
 *   isomorphic-git refuses if local changes would be overwritten).
 * A repo with no commit at all (a bare `git init`) first gets cmf's
 * "Initial code commit" on master. A broken HEAD or ref is left alone for
 * check()/repair() (B16).
 */
export async function ensureBranch(ctx: GitCtx, branch: string, author: Author, logger: Logger): Promise<void> {
  const want = `refs/heads/${branch}`;
  const head = await readHead(ctx.gitdir);
  if (head.kind === 'broken') {
    logger.warn({ file: `${ctx.gitdir}/HEAD` }, `.git/HEAD ${head.reason}; not switching branch (run check/repair)`);
    return;
  }
  let sha: string;
  if (head.kind === 'detached') sha = head.sha;
  else {
    const cur = await readRef(ctx.gitdir, head.ref);
    if (cur.kind === 'ok') sha = cur.sha;
    else if (cur.kind === 'missing' && !(await hasAnyBranch(ctx.gitdir))) {
      sha = await initialCommit(ctx, author); // HEAD is now on master
      if (branch === 'master') return;
    } else {
      if (head.ref !== want || cur.kind === 'broken') {
        logger.warn({ ref: head.ref }, `${head.ref} is ${cur.kind}; not switching branch (run check/repair)`);
      }
      return;
    }
    if (cur.kind === 'ok' && head.ref === want) return;
  }
  const target = await readRef(ctx.gitdir, want);
  if (target.kind === 'missing') {
    await writeRefDurably(ctx, want, sha);
    await writeHeadDurably(ctx, branch);
  } else if (target.kind === 'broken' || target.sha === sha) {
    // A broken branch ref is repaired by repair() once HEAD points at it.
    await writeHeadDurably(ctx, branch);
  } else {
    try {
      await git.checkout({ ...gitArgs(ctx), ref: branch });
    } catch (err) {
      throw new UserError(`cannot switch ${ctx.dir} to branch ${branch}: ${(err as Error).message}`);
    }
  }
  logger.info({ branch }, 'switched to branch');
}

/** cmf's first commit, on master, for a repo that has none yet. */
async function initialCommit(ctx: GitCtx, author: Author): Promise<string> {
  await writeHeadDurably(ctx, 'master');
  const when = { ...author, timestamp: Math.floor(Date.now() / 1000) };
  return git.commit({ ...gitArgs(ctx), message: INITIAL_MESSAGE, author: when, committer: when });
}

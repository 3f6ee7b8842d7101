import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import git from 'isomorphic-git';
import { gitArgs, type GitCtx } from './context.js';
import { indexFileReads } from './index-file.js';

/**
 * Read-only checks used by check()/repair() (field fault B16). Each reads
 * with a fresh isomorphic-git cache so that nothing cached hides what is on
 * disk now.
 */

function fresh(ctx: GitCtx) {
  return { ...gitArgs(ctx), cache: {} };
}

/** The commit object and its root tree read back correctly. */
export async function commitReads(ctx: GitCtx, sha: string): Promise<boolean> {
  try {
    const a = fresh(ctx);
    const { commit } = await git.readCommit({ ...a, oid: sha });
    await git.readTree({ ...a, oid: commit.tree });
    return true;
  } catch {
    return false;
  }
}

/**
 * Everything `git fsck` would need for this commit is present: every commit
 * of its history reads, and every tree and blob of the tip's tree exists.
 * Returns the history length, or undefined when something is missing.
 */
export async function historyReads(ctx: GitCtx, sha: string): Promise<number | undefined> {
  const a = fresh(ctx);
  try {
    const tip = await git.readCommit({ ...a, oid: sha });
    if (!(await treeComplete(ctx, a, tip.commit.tree))) return undefined;
    const seen = new Set<string>();
    const todo = [sha];
    while (todo.length > 0) {
      const oid = todo.pop()!;
      if (seen.has(oid)) continue;
      seen.add(oid);
      const { commit } = await git.readCommit({ ...a, oid });
      todo.push(...commit.parent);
    }
    return seen.size;
  } catch {
    return undefined;
  }
}

async function treeComplete(ctx: GitCtx, a: ReturnType<typeof fresh>, treeOid: string): Promise<boolean> {
  const { tree } = await git.readTree({ ...a, oid: treeOid });
  for (const e of tree) {
    if (e.type === 'tree') {
      if (!(await treeComplete(ctx, a, e.oid))) return false;
    } else if (e.type === 'blob') {
      if (!(await objectExists(ctx, a, e.oid))) return false;
    }
  }
  return true;
}

async function objectExists(ctx: GitCtx, a: ReturnType<typeof fresh>, oid: string): Promise<boolean> {
  try {
    await fsp.access(path.join(ctx.gitdir, 'objects', oid.slice(0, 2), oid.slice(2)));
    return true;
  } catch {
    // Not loose: maybe packed (after a git gc); let isomorphic-git look.
    try {
      await git.readObject({ ...a, oid, format: 'deflated' });
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * The fallback of repair(): among loose commit objects, the newest by
 * committer time whose whole history reads (see historyReads); on a tie the
 * one with the longest history (a descendant beats its parent made in the
 * same second). Packed commits are not considered: isomorphic-git never
 * packs, and a packed commit was already reachable when git gc ran.
 */
export async function newestCompleteLooseCommit(ctx: GitCtx): Promise<string | undefined> {
  const commits: { sha: string; time: number }[] = [];
  const objdir = path.join(ctx.gitdir, 'objects');
  for (const sub of await readdirSafe(objdir)) {
    if (!/^[0-9a-f]{2}$/.test(sub)) continue;
    for (const name of await readdirSafe(path.join(objdir, sub))) {
      if (!/^[0-9a-f]{38}$/.test(name)) continue;
      const time = await looseCommitTime(path.join(objdir, sub, name));
      if (time !== undefined) commits.push({ sha: sub + name, time });
    }
  }
  commits.sort((x, y) => y.time - x.time);
  let best: { sha: string; time: number; depth: number } | undefined;
  for (const c of commits) {
    if (best && c.time < best.time) break;
    const depth = await historyReads(ctx, c.sha);
    if (depth !== undefined && (!best || depth > best.depth)) best = { ...c, depth };
  }
  return best?.sha;
}

/** Committer time of a loose commit object, or undefined if it is not a (readable) commit. */
async function looseCommitTime(file: string): Promise<number | undefined> {
  try {
    const raw = inflateSync(await fsp.readFile(file)).toString('utf8');
    if (!raw.startsWith('commit ')) return undefined;
    const m = /\ncommitter .* (\d+) [+-]\d{4}\n/.exec(raw);
    return m ? Number(m[1]) : 0;
  } catch {
    return undefined;
  }
}

async function readdirSafe(d: string): Promise<string[]> {
  try {
    return await fsp.readdir(d);
  } catch {
    return [];
  }
}

/** The index parses and its SHA-1 trailer is right (index-file.ts); a missing index counts as readable. */
export function indexReads(ctx: GitCtx): Promise<boolean> {
  return indexFileReads(ctx.gitdir);
}

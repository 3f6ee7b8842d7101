import git from 'isomorphic-git';
import { gitArgs, type GitCtx } from './context.js';

/**
 * Does the index differ from the HEAD commit at any of these paths? Walks
 * HEAD's tree and the index together, descending only into directories that
 * lead to one of the paths, so the cost follows the paths, not the repo.
 */
export async function stagedDiffers(ctx: GitCtx, head: string, paths: string[]): Promise<boolean> {
  const wanted = new Set(paths);
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  let differs = false;
  await git.walk({
    ...gitArgs(ctx),
    trees: [git.TREE({ ref: head }), git.STAGE()],
    map: async (filepath, [inHead, inIndex]) => {
      if (differs) return null;
      if (filepath === '.') return true;
      if (dirs.has(filepath) && !wanted.has(filepath)) return true; // a directory on the way
      if (!wanted.has(filepath)) return null; // prune
      const t1 = inHead ? await inHead.type() : undefined;
      const t2 = inIndex ? await inIndex.type() : undefined;
      if (t1 === 'tree' || t2 === 'tree') {
        // A whole directory was named: compare its entries one by one below.
        return subtreeDiffers(ctx, head, filepath).then((d) => {
          if (d) differs = true;
          return null;
        });
      }
      const o1 = inHead ? await inHead.oid() : undefined;
      const o2 = inIndex ? await inIndex.oid() : undefined;
      const m1 = inHead ? await inHead.mode() : undefined;
      const m2 = inIndex ? await inIndex.mode() : undefined;
      if (o1 !== o2 || m1 !== m2) differs = true;
      return null;
    },
  });
  return differs;
}

/** Rare path: a directory was named; compare every file under it. */
async function subtreeDiffers(ctx: GitCtx, head: string, dir: string): Promise<boolean> {
  let differs = false;
  const prefix = `${dir}/`;
  await git.walk({
    ...gitArgs(ctx),
    trees: [git.TREE({ ref: head }), git.STAGE()],
    map: async (filepath, [a, b]) => {
      if (differs) return null;
      if (filepath !== '.' && filepath !== dir && !dir.startsWith(`${filepath}/`) && !filepath.startsWith(prefix)) return null;
      const ta = a ? await a.type() : undefined;
      const tb = b ? await b.type() : undefined;
      if (ta === 'tree' || tb === 'tree' || filepath === '.') return true;
      if ((a ? await a.oid() : undefined) !== (b ? await b.oid() : undefined)) differs = true;
      return null;
    },
  });
  return differs;
}

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fsyncDir } from '../fsutil/atomic.js';
import { getSqlJs } from '../mlmd/index.js';
import { segmentsDir } from '../workspace/segments.js';
import type { Logger } from '../log.js';
import { GitReader } from './git-history.js';
import type { Segment } from './segments.js';

export type KeepCache = 'none' | 'model' | 'all';

const MD5_IN_POINTER = /md5: "?([0-9a-f]{32})"?/;

/**
 * Remove the oldest delivered segment folders beyond `keep`. Pending
 * segments are never removed. A folder is renamed to a dot-name first (the
 * readers skip those) and then deleted, so a crash leaves no half-removed
 * segment under a segment name.
 */
export async function pruneSegments(root: string, segments: Segment[], delivered: (s: Segment) => boolean, keep: number): Promise<string[]> {
  const done = segments.filter(delivered);
  const drop = done.slice(0, Math.max(0, done.length - keep));
  const base = segmentsDir(root);
  for (const seg of drop) {
    const doomed = path.join(base, `.${seg.id}.pruned`);
    await fsp.rename(seg.dir, doomed);
    await fsyncDir(base);
    await fsp.rm(doomed, { recursive: true, force: true });
  }
  return drop.map((s) => s.id);
}

/** Finish removals a crash interrupted. */
export async function removePrunedLeftovers(root: string): Promise<void> {
  const base = segmentsDir(root);
  for (const name of await fsp.readdir(base).catch(() => [] as string[])) {
    if (/^\.\d+\.pruned$/.test(name)) await fsp.rm(path.join(base, name), { recursive: true, force: true });
  }
}

/**
 * `--keep-cache none|model|all`: free DVC cache objects whose segments are
 * delivered. Only the safe part is done. An object is removed only when
 *   1. a delivered segment lists it (nothing else is even considered), and
 *      with `model` it is not a model version (a pointer under `models/`);
 *   2. no pending segment lists it;
 *   3. no `.dvc` pointer in the workspace's HEAD tree names it;
 *   4. no `.dvc` file in the working tree names it (pointers written but not
 *      yet committed by a running watch);
 *   5. the live mlmd has no artifact with that md5 and the journal does not
 *      mention it (a result with the same bytes recorded since sealing).
 * With today's recorder every result pointer stays in HEAD, so in practice
 * this frees superseded model versions (`none`) until sealing drops
 * delivered pointers from the tree. One race remains: `watch` recording a
 * new result with exactly the bytes of a removed object in the same moment.
 */
export async function pruneCache(
  root: string,
  mlmdName: string,
  segments: Segment[],
  delivered: (s: Segment) => boolean,
  mode: KeepCache,
  logger: Logger,
): Promise<{ objects: number; bytes: number }> {
  if (mode === 'all') return { objects: 0, bytes: 0 };
  const candidates = new Set<string>();
  const keep = new Set<string>();
  for (const seg of segments) {
    const m = seg.manifest;
    if (!delivered(seg)) {
      for (const o of m.objects) keep.add(o);
      for (const p of m.pointers) keep.add(p.md5);
      continue;
    }
    const models = new Set(m.pointers.filter((p) => p.path.startsWith('models/')).map((p) => p.md5));
    for (const o of new Set([...m.objects, ...m.pointers.map((p) => p.md5)])) {
      if (mode === 'model' && models.has(o)) continue;
      candidates.add(o);
    }
  }
  for (const k of keep) candidates.delete(k);
  if (candidates.size === 0) return { objects: 0, bytes: 0 };

  // 3. pointers in HEAD
  const reader = new GitReader(root);
  const head = await reader.headCommit();
  if (head) {
    for await (const b of reader.walkBlobs(head)) {
      if (!b.path.endsWith('.dvc')) continue;
      const md5 = MD5_IN_POINTER.exec((await reader.read(b.oid)).content.toString('utf8'))?.[1];
      if (md5) candidates.delete(md5);
    }
  } else {
    logger.warn({ root }, 'cache pruning skipped: HEAD does not resolve');
    return { objects: 0, bytes: 0 };
  }
  // 4. pointers in the working tree
  for await (const file of pointerFiles(root)) {
    const md5 = MD5_IN_POINTER.exec(await fsp.readFile(file, 'utf8').catch(() => ''))?.[1];
    if (md5) candidates.delete(md5);
  }
  // 5. the live mlmd and the journal
  const live = path.join(root, mlmdName);
  const bytes = await fsp.readFile(live).catch(() => undefined);
  if (bytes) {
    const SQL = await getSqlJs();
    const db = new SQL.Database(bytes);
    try {
      for (const row of db.exec('SELECT DISTINCT uri FROM Artifact')[0]?.values ?? []) candidates.delete(String(row[0]));
    } finally {
      db.close();
    }
  }
  const journal = await fsp.readFile(path.join(root, '.cmf-sage', 'journal.ndjson'), 'utf8').catch(() => '');
  for (const c of [...candidates]) if (journal.includes(c)) candidates.delete(c);

  let objects = 0;
  let freed = 0;
  const dirs = new Set<string>();
  for (const md5 of [...candidates].sort()) {
    const file = path.join(root, '.dvc', 'cache', 'files', 'md5', md5.slice(0, 2), md5.slice(2));
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st) continue;
    await fsp.rm(file, { force: true });
    dirs.add(path.dirname(file));
    objects++;
    freed += st.size;
  }
  for (const d of dirs) await fsyncDir(d);
  if (objects) logger.info({ objects, bytes: freed, mode }, 'removed cache objects of delivered segments');
  return { objects, bytes: freed };
}

/** `.dvc` files of the working tree (not in .git, .dvc or .cmf-sage). */
async function* pointerFiles(root: string): AsyncGenerator<string> {
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    for (const e of await fsp.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (dir === root && (e.name === '.git' || e.name === '.dvc' || e.name === '.cmf-sage')) continue;
        stack.push(p);
      } else if (e.isFile() && e.name.endsWith('.dvc')) yield p;
    }
  }
}

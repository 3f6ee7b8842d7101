import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import git from 'isomorphic-git';
import { UserError } from '../errors.js';

/**
 * Read-only access to the workspace's git objects for packaging: which
 * objects a segment's history needs, and each one's bytes as a loose object.
 *
 * Objects cmf-sage writes are loose; their files are copied as they are
 * (already zlib-deflated, never changed), so the archive does not depend on
 * this machine's zlib. A packed object (after someone ran `git gc`) is read
 * with isomorphic-git and deflated here.
 */

export interface GitObject {
  type: 'commit' | 'tree' | 'blob' | 'tag';
  content: Buffer;
}

export class GitReader {
  readonly gitdir: string;
  constructor(readonly dir: string) {
    this.gitdir = path.join(dir, '.git');
  }

  loosePath(oid: string): string {
    return path.join(this.gitdir, 'objects', oid.slice(0, 2), oid.slice(2));
  }

  /** The object's bytes as a loose object file (`zlib(<type> <len>\0<content>)`). */
  async looseBytes(oid: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.loosePath(oid));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const o = await this.readPacked(oid);
    return deflateSync(Buffer.concat([Buffer.from(`${o.type} ${o.content.length}\0`, 'latin1'), o.content]), { level: 1 });
  }

  async read(oid: string): Promise<GitObject> {
    let stored: Buffer | undefined;
    try {
      stored = await fsp.readFile(this.loosePath(oid));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (!stored) return this.readPacked(oid);
    const raw = inflateSync(stored);
    const nul = raw.indexOf(0);
    const [type] = raw.subarray(0, nul).toString('latin1').split(' ');
    return { type: type as GitObject['type'], content: raw.subarray(nul + 1) };
  }

  private async readPacked(oid: string): Promise<GitObject> {
    try {
      const r = await git.readObject({ fs, dir: this.dir, gitdir: this.gitdir, oid, format: 'content' });
      return { type: r.type as GitObject['type'], content: Buffer.from(r.object as Uint8Array) };
    } catch (err) {
      throw new UserError(`git object ${oid} is missing from ${this.gitdir} (${(err as Error).message}); the workspace's git history is damaged`, 70);
    }
  }

  async commit(oid: string): Promise<{ tree: string; parents: string[] }> {
    const o = await this.read(oid);
    if (o.type !== 'commit') throw new UserError(`git object ${oid} is a ${o.type}, expected a commit`, 70);
    const head = o.content.toString('utf8').split('\n\n')[0];
    let tree = '';
    const parents: string[] = [];
    for (const line of head.split('\n')) {
      if (line.startsWith('tree ')) tree = line.slice(5);
      else if (line.startsWith('parent ')) parents.push(line.slice(7));
    }
    return { tree, parents };
  }

  /** Parsed trees, by id (immutable, so safe to keep while packaging one segment). */
  private readonly trees = new Map<string, { mode: string; name: string; oid: string }[]>();

  async tree(oid: string): Promise<{ mode: string; name: string; oid: string }[]> {
    const cached = this.trees.get(oid);
    if (cached) return cached;
    const o = await this.read(oid);
    if (o.type !== 'tree') throw new UserError(`git object ${oid} is a ${o.type}, expected a tree`, 70);
    const out: { mode: string; name: string; oid: string }[] = [];
    const c = o.content;
    let i = 0;
    while (i < c.length) {
      const sp = c.indexOf(0x20, i);
      const nul = c.indexOf(0, sp);
      out.push({ mode: c.subarray(i, sp).toString('latin1'), name: c.subarray(sp + 1, nul).toString('utf8'), oid: c.subarray(nul + 1, nul + 21).toString('hex') });
      i = nul + 21;
    }
    if (this.trees.size > 4096) this.trees.clear();
    this.trees.set(oid, out);
    return out;
  }

  /** Blob content at `filePath` in the commit's tree, or undefined. */
  async fileAt(commit: string, filePath: string): Promise<Buffer | undefined> {
    let tree = (await this.commit(commit)).tree;
    const parts = filePath.split('/');
    for (let k = 0; k < parts.length; k++) {
      const e = (await this.tree(tree)).find((x) => x.name === parts[k]);
      if (!e) return undefined;
      if (k === parts.length - 1) return e.mode === '40000' ? undefined : (await this.read(e.oid)).content;
      if (e.mode !== '40000') return undefined;
      tree = e.oid;
    }
    return undefined;
  }

  /** Every blob under `commit`'s tree, as (path, oid), depth first. */
  async *walkBlobs(commit: string): AsyncGenerator<{ path: string; oid: string }> {
    const stack: [string, string][] = [[(await this.commit(commit)).tree, '']];
    while (stack.length) {
      const [tree, prefix] = stack.pop()!;
      for (const e of await this.tree(tree)) {
        const p = prefix ? `${prefix}/${e.name}` : e.name;
        if (e.mode === '40000') stack.push([e.oid, p]);
        else if (e.mode !== '160000') yield { path: p, oid: e.oid };
      }
    }
  }

  /** The commit HEAD names (through a symbolic ref), or undefined when there is none. */
  async headCommit(): Promise<string | undefined> {
    try {
      return await git.resolveRef({ fs, dir: this.dir, gitdir: this.gitdir, ref: 'HEAD' });
    } catch {
      return undefined;
    }
  }
}

export interface History {
  /** All object ids the history needs, sorted. */
  oids: string[];
  /** Commits whose parents are left out (the `.git/shallow` file), sorted. */
  shallow: string[];
}

/**
 * The objects of the commits from `end` back to `boundary` (inclusive), with
 * their full trees. Each commit's tree is a snapshot of every pointer ever
 * recorded, and a window's commit rewrites its day's tree, so shipping the
 * whole history in every archive would grow without bound; the segment's own
 * commits are what its executions name (Git_Start_Commit .. Git_End_Commit).
 * `boundary` becomes a shallow commit; when it is not an ancestor of `end`,
 * the history goes back to the root commit.
 */
export async function collectHistory(reader: GitReader, end: string, boundary: string | undefined): Promise<History> {
  const seen = new Set<string>();
  const shallow: string[] = [];
  const commits: string[] = [end];
  const trees: string[] = [];
  while (commits.length) {
    const c = commits.pop()!;
    if (seen.has(c)) continue;
    seen.add(c);
    const { tree, parents } = await reader.commit(c);
    trees.push(tree);
    if (c === boundary && parents.length > 0) shallow.push(c);
    else commits.push(...parents);
  }
  while (trees.length) {
    const t = trees.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    for (const e of await reader.tree(t)) {
      if (e.mode === '40000') trees.push(e.oid);
      else if (e.mode !== '160000') seen.add(e.oid);
    }
  }
  return { oids: [...seen].sort(), shallow: shallow.sort() };
}

import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import type { GitCtx } from './context.js';
import { S_IFLNK, entryIntentToAdd, entryMode, entryOid, folderEnd, indexState, lowerBound, makeEntry, type IndexState } from './index-file.js';
import { ObjectBatch, commitTree, wrapObject } from './objects.js';
import { writeRefDurably } from './refs.js';
import { EMPTY_TREE, TREE_MODE, TreeReader, buildTree, canonicalMode, type TreeEntry } from './tree.js';

/**
 * `WorkspaceRepo.commit` without isomorphic-git on the hot path. For N named
 * pointers it costs N × (open, fstat, read, SHA-1, existence check, temp
 * file + rename) plus one index rewrite, the trees of the folders that
 * changed, and one commit object; `git.add` + `git.commit` cost a promise
 * chain, a pako deflate state and a loose-object write per file, and
 * re-read the index and rebuilt every tree of the repository per commit.
 *
 * The results are git's: blobs and trees are what `git hash-object` and
 * `git write-tree` make of the same files and index (objects.ts, tree.ts);
 * the commit object is rendered exactly as isomorphic-git rendered it; the
 * index entries carry the files' full stat data, so git sees them unchanged.
 *
 * Order of writes, as before: every new object (temp file, made durable,
 * renamed; DurableFs.writeObjects) → fsync of their folders → index (temp,
 * fsync, rename) → branch ref. A kill at any point leaves the old HEAD or the
 * new one, and never a ref or an index naming a missing object.
 */

export interface Signature {
  name: string;
  email: string;
  /** Seconds since the epoch. */
  timestamp: number;
}

export interface HeadInfo {
  sha: string;
  /** The file to update: `refs/heads/<branch>`, or `HEAD` when detached. */
  ref: string;
}

export class Committer {
  /** The last commit written here, and its tree. */
  private last: { sha: string; tree: string } | undefined;

  constructor(private readonly ctx: GitCtx) {}

  /** Drop every in-memory copy (after a repair, or anything else that rewrote .git behind our back). */
  forget(): void {
    this.last = undefined;
    indexState(this.ctx).invalidate();
  }

  /**
   * Stage exactly `paths` (workspace-relative, normalised, sorted, unique)
   * and commit them on top of `head`. Returns the new commit, or head.sha
   * when none of the paths differs from HEAD.
   */
  async commit(paths: readonly string[], message: string, who: Signature, head: HeadInfo): Promise<string> {
    const state = indexState(this.ctx);
    try {
      state.load();
      const headTree = this.last?.sha === head.sha ? this.last.tree : await commitTree(this.ctx, head.sha);
      if (!state.trees.has('') && !state.hasConflicts()) {
        // First commit since the index was (re)read: hash it as it is. If that
        // is HEAD's tree, every folder's tree is one of HEAD's, so on disk.
        const before = buildTree(state, undefined);
        if (before.oid === headTree) for (const [dir, oid] of before.computed) state.trees.set(dir, oid);
      }
      // The index held exactly HEAD's tree before this call (the usual case):
      // then "differs from HEAD" is "this call changed an entry".
      const indexWasHead = state.trees.get('') === headTree;
      const batch = new ObjectBatch(this.ctx);
      const changed = await this.stage(paths, state, batch);
      const differs = indexWasHead ? changed : await this.namedPathsDiffer(paths, state, headTree);
      if (!differs) {
        await batch.flush(); // the index may name a blob that was only in a pack
        if (state.dirty) await state.write(this.ctx);
        return head.sha;
      }
      const tree = buildTree(state, batch);
      const text = renderCommit(tree.oid, [head.sha], who, message);
      const sha = batch.add(wrapObject('commit', Buffer.from(text, 'utf8')));
      await batch.flush();
      for (const [dir, oid] of tree.computed) state.trees.set(dir, oid);
      // Both writes fsync the objects' folders first (DurableFs barrier).
      await state.write(this.ctx);
      await writeRefDurably(this.ctx, head.ref, sha);
      this.last = { sha, tree: tree.oid };
      return sha;
    } catch (err) {
      this.forget();
      throw err;
    }
  }

  /**
   * Update the index entries of `paths` from the work tree, writing the new
   * blobs into `batch`. Returns true when an entry was added, removed, or
   * got another blob or mode. `.gitignore` is not consulted (`git add
   * --force`): the caller named these paths, a rule must not silently drop one.
   */
  private async stage(paths: readonly string[], state: IndexState, batch: ObjectBatch): Promise<boolean> {
    const dirs: string[] = [];
    const gone: string[] = [];
    const added: string[] = [];
    let changed = false;
    let n = 0;
    for (const p of paths) {
      if (++n % 256 === 0) await yieldToLoop();
      const r = this.stageFile(p, state, batch);
      if (r === 'gone') gone.push(p);
      else if (r === 'dir') dirs.push(p);
      else {
        if (r) changed = true;
        added.push(p);
      }
    }
    for (const d of dirs) {
      const seen = new Set<string>();
      const todo = [d];
      while (todo.length > 0) {
        const cur = todo.pop()!;
        for (const name of readdirOrEmpty(path.join(this.ctx.dir, cur))) {
          if (name === '.git') continue; // like git, never descend into a repository's .git
          const p = `${cur}/${name}`;
          if (++n % 256 === 0) await yieldToLoop();
          const r = this.stageFile(p, state, batch);
          if (r === 'gone') continue;
          if (r === 'dir') todo.push(p);
          else {
            if (r) changed = true;
            seen.add(p);
            added.push(p);
          }
        }
      }
      // Like `git add <folder>`: what vanished below it is dropped too.
      for (const k of state.keysUnder(d)) if (!seen.has(k) && state.delete(k)) changed = true;
    }
    // Removals, and a file replacing a folder of the same name (or a file
    // where a folder is now needed), against one sorted snapshot of the keys.
    if (gone.length > 0 || added.length > 0) {
      const keys = state.sortedKeys();
      for (const p of gone) {
        if (state.delete(p)) changed = true;
        for (const k of keysUnder(keys, p)) if (state.delete(k)) changed = true;
      }
      for (const p of added) {
        for (const k of keysUnder(keys, p)) if (state.delete(k)) changed = true;
        for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) {
          if (state.delete(p.slice(0, i))) changed = true;
        }
      }
    }
    return changed;
  }

  /**
   * Hash one path into a blob and its index entry. Returns whether the entry
   * changed, 'gone' when there is nothing at that path, 'dir' for a folder.
   * The stat data is taken from the descriptor the content is read from.
   */
  private stageFile(p: string, state: IndexState, batch: ObjectBatch): boolean | 'gone' | 'dir' {
    const abs = path.join(this.ctx.dir, p);
    let content: Buffer;
    let mode: number;
    let st: fs.BigIntStats;
    let fd: number;
    try {
      // O_NONBLOCK: a FIFO must not hang the open (it is refused below).
      fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return 'gone';
      if (code !== 'ELOOP') throw err;
      // A symbolic link: git stores its target.
      try {
        st = fs.lstatSync(abs, { bigint: true });
        content = fs.readlinkSync(abs, { encoding: 'buffer' });
      } catch (err2) {
        const code2 = (err2 as NodeJS.ErrnoException).code;
        if (code2 === 'ENOENT' || code2 === 'ENOTDIR') return 'gone';
        if (code2 === 'EINVAL') return this.stageFile(p, state, batch); // replaced by a file meanwhile
        throw err2;
      }
      const oid = batch.add(wrapObject('blob', content));
      return state.set(p, makeEntry(Buffer.from(p, 'utf8'), S_IFLNK, Buffer.from(oid, 'hex'), st));
    }
    try {
      st = fs.fstatSync(fd, { bigint: true });
      if (st.isDirectory()) return 'dir';
      if (!st.isFile()) throw new UserError(`cannot commit ${abs}: not a regular file, symbolic link or folder`);
      content = readWhole(fd, Number(st.size));
      mode = Number(st.mode) & 0o100 ? 0o100755 : 0o100644;
    } finally {
      fs.closeSync(fd);
    }
    const oid = batch.add(wrapObject('blob', content));
    return state.set(p, makeEntry(Buffer.from(p, 'utf8'), mode, Buffer.from(oid, 'hex'), st));
  }

  /** Does the (updated) index differ from HEAD's tree at any of `paths`? Compares folders by tree id. */
  private async namedPathsDiffer(paths: readonly string[], state: IndexState, headTree: string): Promise<boolean> {
    const reader = new TreeReader(this.ctx, headTree);
    const keys = state.sortedKeys();
    for (const p of paths) {
      let mine: TreeEntry | undefined;
      const raw = state.get(p);
      if (raw !== undefined && !entryIntentToAdd(raw)) {
        mine = { mode: canonicalMode(entryMode(raw)), oid: entryOid(raw).toString('hex') };
      } else if (keysUnder(keys, p).length > 0) {
        const oid = buildTree(state, undefined, `${p}/`).oid;
        if (oid !== EMPTY_TREE) mine = { mode: TREE_MODE, oid };
      }
      const theirs = await reader.lookup(p);
      if (mine?.mode !== theirs?.mode || mine?.oid !== theirs?.oid) return true;
    }
    return false;
  }
}

/** Index keys below folder `dir` in a sorted snapshot. */
function keysUnder(keys: readonly string[], dir: string): readonly string[] {
  const prefix = `${dir}/`;
  const lo = lowerBound(keys, prefix);
  const hi = lowerBound(keys, folderEnd(prefix), lo);
  return lo === hi ? [] : keys.slice(lo, hi);
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}

/** The whole file: one read when it still has the size fstat gave. */
function readWhole(fd: number, size: number): Buffer {
  // One byte more than expected: a short read of a regular file is its end.
  let buf = Buffer.allocUnsafe(size + 1);
  let got = 0;
  for (;;) {
    const n = fs.readSync(fd, buf, got, buf.length - got, got);
    got += n;
    if (n === 0 || got < buf.length) return buf.subarray(0, got);
    const bigger = Buffer.allocUnsafe(buf.length * 2);
    buf.copy(bigger);
    buf = bigger;
  }
}

function yieldToLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** A commit object's text, exactly as isomorphic-git's git.commit renders it (GitCommit.render). */
export function renderCommit(tree: string, parents: readonly string[], who: Signature, message: string): string {
  const tz = formatTimezoneOffset(new Date(who.timestamp * 1000).getTimezoneOffset());
  const person = `${who.name} <${who.email}> ${who.timestamp} ${tz}`;
  let headers = `tree ${tree}\n`;
  for (const p of parents) headers += `parent ${p}\n`;
  headers += `author ${person}\ncommitter ${person}\n`;
  return `${headers}\n${normalizeNewlines(message)}`;
}

function formatTimezoneOffset(minutes: number): string {
  // getTimezoneOffset is minutes *behind* UTC: -120 is +0200; zero is +0000.
  const sign = minutes === 0 ? 1 : Math.sign(-minutes);
  const abs = Math.abs(minutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${sign < 0 ? '-' : '+'}${hh}${mm}`;
}

function normalizeNewlines(s: string): string {
  return `${s.replace(/\r/g, '').replace(/^\n+/, '').replace(/\n+$/, '')}\n`;
}

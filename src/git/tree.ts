import { createHash } from 'node:crypto';
import { UserError } from '../errors.js';
import {
  S_IFGITLINK,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  entryIntentToAdd,
  entryMode,
  entryPathLength,
  entryPathOffset,
  entryStage,
  folderEnd,
  lowerBound,
  type IndexState,
} from './index-file.js';
import { readObject, type ObjectBatch } from './objects.js';
import type { GitCtx } from './context.js';

/**
 * Tree objects from the index, like `git write-tree`: one tree per folder,
 * entries in git's order, modes written the canonical way. Index order
 * restricted to one folder is already tree order (a sub-folder's entries all
 * start with `name/`, and git sorts a folder as `name/`).
 *
 * A folder whose tree id is in `state.trees` (nothing below it changed since
 * that tree was written) is not rebuilt: a commit costs the folders it
 * touches, not the whole repository.
 */
export const TREE_MODE = 0o40000;
export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

const MODE_TEXT = new Map<number, Buffer>([
  [0o100644, Buffer.from('100644 ')],
  [0o100755, Buffer.from('100755 ')],
  [S_IFLNK, Buffer.from('120000 ')],
  [S_IFGITLINK, Buffer.from('160000 ')],
  [TREE_MODE, Buffer.from('40000 ')],
]);

/** The mode git writes in a tree for an index entry's mode. */
export function canonicalMode(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return mode & 0o100 ? 0o100755 : 0o100644;
    case S_IFLNK:
      return S_IFLNK;
    case S_IFGITLINK:
      return S_IFGITLINK;
    default:
      throw new UserError(`.git/index has an entry with mode ${mode.toString(8)}, which git cannot commit`);
  }
}

export interface BuildResult {
  oid: string;
  /** Folder → tree id for every tree computed (not taken from the cache). */
  computed: Map<string, string>;
}

/**
 * The tree of the entries at or below `dir` (`''` for the root, else
 * `a/b/`). New tree objects go to `batch` (when given); computed folder ids
 * are returned so that the caller can cache them once they are on disk.
 */
export function buildTree(state: IndexState, batch: ObjectBatch | undefined, dir = ''): BuildResult {
  if (state.hasConflicts()) throw new UserError('.git/index has unresolved conflicts; resolve them with git first');
  const keys = state.sortedKeys();
  const computed = new Map<string, string>();
  const lo = dir === '' ? 0 : lowerBound(keys, dir);
  const hi = dir === '' ? keys.length : lowerBound(keys, folderEnd(dir), lo);
  const oid = buildFolder(state, batch, keys, lo, hi, dir, Buffer.byteLength(dir), computed);
  return { oid: oid ?? EMPTY_TREE, computed };
}

/** Returns undefined for a folder with nothing to commit (git writes no empty sub-trees). */
function buildFolder(
  state: IndexState,
  batch: ObjectBatch | undefined,
  keys: readonly string[],
  lo: number,
  hi: number,
  prefix: string,
  prefixBytes: number,
  computed: Map<string, string>,
): string | undefined {
  // Pass 1: the entries (file entries as their index bytes, sub-folders by
  // name and tree id) and the tree's size. Pass 2 copies them into place.
  const files: Buffer[] = [];
  const items: (Buffer | { name: Buffer; oid: string })[] = [];
  let size = 0;
  for (let i = lo; i < hi; ) {
    const key = keys[i]!;
    const slash = key.indexOf('/', prefix.length);
    if (slash < 0) {
      const raw = state.entry(key);
      i++;
      if (entryStage(raw) !== 0) throw new UserError(`.git/index has an unresolved conflict at ${key.split('\0')[0]}`);
      if (entryIntentToAdd(raw)) continue; // `git add -N`: not part of the tree
      size += MODE_TEXT.get(canonicalMode(entryMode(raw)))!.length + entryPathLength(raw) - prefixBytes + 21;
      items.push(raw);
      files.push(raw);
    } else {
      const sub = key.slice(0, slash + 1);
      const end = lowerBound(keys, folderEnd(sub), i, hi);
      let oid = state.trees.get(sub);
      if (oid === undefined) oid = buildFolder(state, batch, keys, i, end, sub, Buffer.byteLength(sub), computed);
      i = end;
      if (oid === undefined) continue;
      const name = Buffer.from(sub.slice(prefix.length, -1));
      size += DIR_MODE.length + name.length + 21;
      items.push({ name, oid });
    }
  }
  if (items.length === 0 && prefix !== '') return undefined;
  const header = `tree ${size}\0`;
  const out = Buffer.allocUnsafe(header.length + size);
  let off = out.write(header, 0, 'latin1');
  // Byte loops: a Buffer.copy call per field costs more than the bytes it moves.
  for (const it of items) {
    if (Buffer.isBuffer(it)) {
      const mode = MODE_TEXT.get(canonicalMode(entryMode(it)))!;
      for (let j = 0; j < mode.length; j++) out[off++] = mode[j]!;
      const p = entryPathOffset(it);
      const end = p + entryPathLength(it);
      for (let j = p + prefixBytes; j < end; j++) out[off++] = it[j]!;
      out[off++] = 0;
      for (let j = 40; j < 60; j++) out[off++] = it[j]!;
    } else {
      for (let j = 0; j < DIR_MODE.length; j++) out[off++] = DIR_MODE[j]!;
      off += it.name.copy(out, off);
      out[off++] = 0;
      off += out.write(it.oid, off, 'hex');
    }
  }
  const oid = createHash('sha1').update(out).digest('hex');
  batch?.add(out, oid);
  computed.set(prefix, oid);
  return oid;
}

const DIR_MODE = Buffer.from('40000 ');

export interface TreeEntry {
  mode: number;
  oid: string;
}

/** Parse a tree object's content into name → entry. */
export function parseTree(content: Buffer): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  let off = 0;
  while (off < content.length) {
    const sp = content.indexOf(0x20, off);
    const nul = content.indexOf(0, sp);
    if (sp < 0 || nul < 0 || nul + 21 > content.length) throw new Error('malformed tree object');
    const mode = parseInt(content.toString('latin1', off, sp), 8);
    out.set(content.toString('utf8', sp + 1, nul), { mode, oid: content.toString('hex', nul + 1, nul + 21) });
    off = nul + 21;
  }
  return out;
}

/** Look paths up in one commit's tree, reading each tree object once. */
export class TreeReader {
  private readonly trees = new Map<string, Promise<Map<string, TreeEntry>>>();

  constructor(
    private readonly ctx: GitCtx,
    private readonly root: string,
  ) {}

  private tree(oid: string): Promise<Map<string, TreeEntry>> {
    let t = this.trees.get(oid);
    if (t === undefined) {
      t = readObject(this.ctx, oid, 'tree').then(parseTree);
      this.trees.set(oid, t);
    }
    return t;
  }

  /** The entry at `p` (a file, or a folder as mode 40000), or undefined. */
  async lookup(p: string): Promise<TreeEntry | undefined> {
    let cur: TreeEntry = { mode: TREE_MODE, oid: this.root };
    for (const name of p.split('/')) {
      if ((cur.mode & S_IFMT) !== TREE_MODE) return undefined;
      const next = (await this.tree(cur.oid)).get(name);
      if (next === undefined) return undefined;
      cur = next;
    }
    return cur;
  }
}

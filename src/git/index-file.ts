import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import git from 'isomorphic-git';
import { UserError } from '../errors.js';
import { gitArgs, type GitCtx } from './context.js';

/**
 * `.git/index`, read and written by cmf-sage itself (format: git's
 * Documentation/gitformat-index.txt), kept in memory between calls.
 *
 * Entries are kept as their on-disk bytes (v2/v3 layout), so a rewrite copies
 * untouched entries verbatim and costs one pass over the file, whatever the
 * number of tracked paths. The in-memory copy is trusted only while the file
 * on disk is the one it was read from or written as: same inode, size,
 * mtime and ctime (nanoseconds) and the same SHA-1 trailer; anything else
 * (a git CLI run, a repair) makes the next call re-read the file.
 *
 * Reads versions 2, 3 and 4; writes 2, or 3 when an entry has extended flags
 * (what git writes by default). Extensions are dropped on rewrite, as
 * isomorphic-git did (git rebuilds its cache-tree); a split or sparse index
 * is refused, since dropping those would lose entries.
 */

// Entry layout (v2/v3): ctime s, ns | mtime s, ns | dev | ino | mode | uid | gid | size (10 x uint32),
// 20-byte oid, 16-bit flags, [16-bit extended flags], path, 1-8 NULs to a multiple of 8.
const OID = 40;
const FLAGS = 60;
const F_EXTENDED = 0x4000;
const F_STAGE = 0x3000;
const F_NAMELEN = 0x0fff;
const X_INTENT_TO_ADD = 0x2000;

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFGITLINK = 0o160000;

function pathOffset(raw: Buffer): number {
  return raw.readUInt16BE(FLAGS) & F_EXTENDED ? 64 : 62;
}

/** Byte length of an entry with this path, git's ondisk_ce_size. */
function entrySize(fixed: number, pathLen: number): number {
  return (fixed + pathLen + 8) & ~7;
}

export function entryMode(raw: Buffer): number {
  return raw.readUInt32BE(24);
}

export function entryOid(raw: Buffer): Buffer {
  return raw.subarray(OID, OID + 20);
}

export function entryStage(raw: Buffer): number {
  return (raw.readUInt16BE(FLAGS) & F_STAGE) >> 12;
}

export function entryIntentToAdd(raw: Buffer): boolean {
  return (raw.readUInt16BE(FLAGS) & F_EXTENDED) !== 0 && (raw.readUInt16BE(62) & X_INTENT_TO_ADD) !== 0;
}

/** Where an entry's path starts in its bytes. */
export function entryPathOffset(raw: Buffer): number {
  return pathOffset(raw);
}

/** Byte length of an entry's path. */
export function entryPathLength(raw: Buffer): number {
  const n = raw.readUInt16BE(FLAGS) & F_NAMELEN;
  if (n < F_NAMELEN) return n;
  const off = pathOffset(raw);
  return raw.indexOf(0, off + F_NAMELEN) - off;
}

export interface EntryStat {
  ctimeNs: bigint;
  mtimeNs: bigint;
  dev: bigint;
  ino: bigint;
  uid: bigint;
  gid: bigint;
  size: bigint;
}

const U32 = 0xffffffffn;
const BILLION = 1_000_000_000n;
const ZERO_STAT: EntryStat = { ctimeNs: 0n, mtimeNs: 0n, dev: 0n, ino: 0n, uid: 0n, gid: 0n, size: 0n };

/**
 * Entries live as long as the path is tracked, i.e. for the life of `watch`.
 * Carved from slabs of their own: a Buffer.alloc per entry cost a malloc'd
 * backing store (~300 bytes more than the entry), and Node's shared 8 KB pool
 * is interleaved with short-lived buffers, so each entry pinned a share of a
 * mostly dead pool block. Every byte of an entry is written by makeEntry.
 */
class EntrySlab {
  private slab = Buffer.allocUnsafeSlow(0);
  private used = 0;
  constructor(private readonly size: number) {}
  alloc(n: number): Buffer {
    if (n > this.size >> 2) return Buffer.allocUnsafeSlow(n);
    if (this.used + n > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(this.size);
      this.used = 0;
    }
    const out = this.slab.subarray(this.used, this.used + n);
    this.used += (n + 7) & ~7;
    return out;
  }
}
const entrySlab = new EntrySlab(64 << 10);

/** A stage-0 entry: `stat` as lstat gave it (or zeros), `mode` a git mode, `oid` 20 bytes. */
export function makeEntry(pathBytes: Buffer, mode: number, oid: Uint8Array, stat: EntryStat = ZERO_STAT): Buffer {
  const raw = entrySlab.alloc(entrySize(62, pathBytes.length));
  raw.writeUInt32BE(Number((stat.ctimeNs / BILLION) & U32), 0);
  raw.writeUInt32BE(Number(stat.ctimeNs % BILLION), 4);
  raw.writeUInt32BE(Number((stat.mtimeNs / BILLION) & U32), 8);
  raw.writeUInt32BE(Number(stat.mtimeNs % BILLION), 12);
  raw.writeUInt32BE(Number(stat.dev & U32), 16);
  raw.writeUInt32BE(Number(stat.ino & U32), 20);
  raw.writeUInt32BE(mode, 24);
  raw.writeUInt32BE(Number(stat.uid & U32), 28);
  raw.writeUInt32BE(Number(stat.gid & U32), 32);
  raw.writeUInt32BE(Number(stat.size & U32), 36);
  raw.set(oid, OID);
  raw.writeUInt16BE(Math.min(pathBytes.length, F_NAMELEN), FLAGS);
  pathBytes.copy(raw, 62);
  raw.fill(0, 62 + pathBytes.length);
  return raw;
}

/**
 * Git's order of index entries and tree entries within a folder: by the
 * UTF-8 bytes of the path, which is code point order. JS `<` compares UTF-16
 * units, which differs only between surrogates and U+E000..U+FFFF.
 */
export function comparePaths(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/** First index in [lo, hi) whose key is not below `key`. */
export function lowerBound(keys: readonly string[], key: string, lo = 0, hi = keys.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePaths(keys[mid]!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The keys of the entries at or below a folder are [lowerBound(dir/), lowerBound(dir0)). */
export function folderEnd(dirWithSlash: string): string {
  return `${dirWithSlash.slice(0, -1)}0`;
}

/** Map key of an entry: its path, with the stage appended for a conflict entry. */
function keyOf(p: string, stage: number): string {
  return stage === 0 ? p : `${p}\0${stage}`;
}

export interface ParsedIndex {
  entries: Map<string, Buffer>;
  /** Keys in index order. */
  keys: string[];
}

/** Parse an index file; throws a plain Error when it is corrupt. */
export function parseIndex(buf: Buffer): ParsedIndex {
  if (buf.length < 32 || buf.toString('latin1', 0, 4) !== 'DIRC') throw new Error('not an index file (no DIRC signature)');
  const trailer = buf.subarray(buf.length - 20);
  // index.skipHash writes a zero trailer.
  if (trailer.some((b) => b !== 0)) {
    const sum = createHash('sha1').update(buf.subarray(0, buf.length - 20)).digest();
    if (!sum.equals(trailer)) throw new Error('index checksum mismatch');
  }
  const version = buf.readUInt32BE(4);
  if (version < 2 || version > 4) throw new Error(`unsupported index version ${version}`);
  const count = buf.readUInt32BE(8);
  const entries = new Map<string, Buffer>();
  const keys: string[] = new Array(count);
  const end = buf.length - 20;
  let off = 12;
  let prev: Buffer = Buffer.alloc(0);
  let sorted = true;
  for (let i = 0; i < count; i++) {
    if (off + 62 > end) throw new Error('index truncated');
    const flags = buf.readUInt16BE(off + FLAGS);
    const fixed = flags & F_EXTENDED ? 64 : 62;
    if (fixed === 64 && version < 3) throw new Error('extended flags in a version 2 index');
    let raw: Buffer;
    let pathBytes: Buffer;
    if (version === 4) {
      // Path prefix-compressed against the previous entry, NUL-terminated, no padding.
      let p = off + fixed;
      let c = buf[p++]!;
      let strip = c & 127;
      while (c & 128) {
        c = buf[p++]!;
        strip = ((strip + 1) << 7) | (c & 127);
      }
      const nul = buf.indexOf(0, p);
      if (nul < 0 || nul >= end || strip > prev.length) throw new Error('index truncated');
      pathBytes = Buffer.concat([prev.subarray(0, prev.length - strip), buf.subarray(p, nul)]);
      raw = Buffer.alloc(entrySize(fixed, pathBytes.length));
      buf.copy(raw, 0, off, off + fixed);
      pathBytes.copy(raw, fixed);
      off = nul + 1;
    } else {
      const n = flags & F_NAMELEN;
      const nul = n < F_NAMELEN ? off + fixed + n : buf.indexOf(0, off + fixed + F_NAMELEN);
      if (nul < 0 || nul >= end || buf[nul] !== 0) throw new Error('index entry path not terminated');
      const size = entrySize(fixed, nul - off - fixed);
      if (off + size > end) throw new Error('index truncated');
      raw = buf.subarray(off, off + size);
      pathBytes = buf.subarray(off + fixed, nul);
      off += size;
    }
    const p = pathBytes.toString('utf8');
    const key = keyOf(p, (flags & F_STAGE) >> 12);
    if (i > 0 && sorted && comparePaths(keys[i - 1]!, key) >= 0) sorted = false;
    entries.set(key, raw);
    keys[i] = key;
    prev = pathBytes;
  }
  while (off + 8 <= end) {
    const sig = buf.toString('latin1', off, off + 4);
    if (sig === 'link') throw new UserError('.git/index is a split index (core.splitIndex), which cmf-sage cannot update: run `git update-index --no-split-index`');
    if (sig === 'sdir') throw new UserError('.git/index is a sparse index, which cmf-sage cannot update: run `git sparse-checkout disable`');
    off += 8 + buf.readUInt32BE(off + 4);
  }
  if (off !== end) throw new Error('index extensions truncated');
  if (!sorted || entries.size !== count) {
    // Not in git's order, or a path twice: normalise (later entries win).
    return { entries, keys: [...entries.keys()].sort(comparePaths) };
  }
  return { entries, keys };
}

/**
 * Serialise entries (in `keys` order) as a version 2/3 index with its SHA-1
 * trailer, as a list of pieces (header, the entries' own buffers, trailer) for
 * one gathered write. One contiguous copy would be a transient buffer as large
 * as the index (11 MB at 100,000 pointers) on every commit, which glibc keeps
 * as heap fragmentation: the watch process grew by it for good.
 */
export function serializeIndex(keys: readonly string[], entries: ReadonlyMap<string, Buffer>): Buffer[] {
  let extended = false;
  const pieces: Buffer[] = new Array<Buffer>(keys.length + 2);
  const header = Buffer.alloc(12);
  header.write('DIRC', 0, 'latin1');
  header.writeUInt32BE(keys.length, 8);
  const hash = createHash('sha1');
  let i = 1;
  for (const k of keys) {
    const raw = entries.get(k)!;
    if (!extended && raw.readUInt16BE(FLAGS) & F_EXTENDED) extended = true;
    pieces[i++] = raw;
  }
  header.writeUInt32BE(extended ? 3 : 2, 4);
  pieces[0] = header;
  for (let j = 0; j < i; j++) hash.update(pieces[j]!);
  pieces[i] = hash.digest();
  return pieces;
}

interface Stamp {
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  trailer: Buffer;
}

function sameFile(s: Stamp, st: fs.BigIntStats): boolean {
  return s.ino === st.ino && s.size === st.size && s.mtimeNs === st.mtimeNs && s.ctimeNs === st.ctimeNs;
}

/**
 * The index of one repository, in memory. Callers hold the repository's
 * queue (and index.lock for writes) around every use.
 */
export class IndexState {
  readonly file: string;
  private entries = new Map<string, Buffer>();
  private keys: string[] = [];
  /** Keys added since `keys` was last sorted (merged in lazily). */
  private added = new Set<string>();
  private removed = 0;
  private conflicts = 0;
  private loaded = false;
  /** The file as last read or written; null: there was no file. */
  private stamp: Stamp | null = null;
  /** Entries differ from the file on disk. */
  dirty = false;
  /**
   * Tree ids of folders (`''` for the root, `a/b/` for a folder) for the
   * entries as they are now, for folders whose tree object is known to be on
   * disk. Any change under a folder drops it and its ancestors.
   */
  readonly trees = new Map<string, string>();

  constructor(gitdir: string) {
    this.file = path.join(gitdir, 'index');
  }

  /** Forget everything: the next load() re-reads the file. */
  invalidate(): void {
    this.conflicts = 0;
    this.loaded = false;
    this.stamp = null;
    this.entries = new Map();
    this.keys = [];
    this.added = new Set();
    this.removed = 0;
    this.dirty = false;
    this.trees.clear();
  }

  /** Make the in-memory entries those of the file on disk (re-read only if it changed). */
  load(): void {
    if (this.loaded && this.dirty) return; // a caller's own unsaved changes
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (!(this.loaded && this.stamp === null)) this.replace({ entries: new Map(), keys: [] }, null);
      return;
    }
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      if (this.loaded && this.stamp && sameFile(this.stamp, st) && st.size >= 20n) {
        const trailer = Buffer.alloc(20);
        fs.readSync(fd, trailer, 0, 20, Number(st.size) - 20);
        if (trailer.equals(this.stamp.trailer)) return;
      }
      const buf = Buffer.allocUnsafe(Number(st.size));
      let got = 0;
      while (got < buf.length) {
        const n = fs.readSync(fd, buf, got, buf.length - got, got);
        if (n === 0) break;
        got += n;
      }
      let parsed: ParsedIndex;
      try {
        parsed = parseIndex(buf.subarray(0, got));
      } catch (err) {
        if (err instanceof UserError) throw err;
        throw new UserError(`${this.file} is corrupt (${(err as Error).message}); run the repair`, 3);
      }
      this.replace(parsed, { ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, trailer: Buffer.from(buf.subarray(got - 20, got)) });
    } finally {
      fs.closeSync(fd);
    }
  }

  private replace(parsed: ParsedIndex, stamp: Stamp | null): void {
    this.conflicts = parsed.keys.filter((k) => k.includes('\0')).length;
    this.entries = parsed.entries;
    this.keys = parsed.keys;
    this.added = new Set();
    this.removed = 0;
    this.stamp = stamp;
    this.loaded = true;
    this.dirty = false;
    this.trees.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  has(p: string): boolean {
    return this.entries.has(p);
  }

  get(p: string): Buffer | undefined {
    return this.entries.get(p);
  }

  /** Any conflict (stage 1-3) entry? */
  hasConflicts(): boolean {
    return this.conflicts > 0;
  }

  /** Set a stage-0 entry; returns true when its blob or mode changed (or it is new). */
  set(p: string, raw: Buffer): boolean {
    const old = this.entries.get(p);
    if (old !== undefined && old.equals(raw)) return false;
    this.entries.set(p, raw);
    this.dirty = true;
    if (old === undefined) this.added.add(p);
    const changed = old === undefined || entryMode(old) !== entryMode(raw) || !entryOid(old).equals(entryOid(raw));
    if (changed) this.dropTrees(p);
    return changed;
  }

  /** Remove an entry (all stages of it); returns true when there was one. */
  delete(p: string): boolean {
    let found = false;
    for (const k of this.conflicts > 0 ? [p, `${p}\0${1}`, `${p}\0${2}`, `${p}\0${3}`] : [p]) {
      if (this.entries.delete(k)) {
        found = true;
        this.removed++;
        if (k !== p) this.conflicts--;
      }
    }
    if (found) {
      this.dirty = true;
      this.dropTrees(p);
    }
    return found;
  }

  /** Keys of the entries below folder `dir` (no trailing slash), in order. */
  keysUnder(dir: string): string[] {
    const keys = this.sortedKeys();
    const prefix = `${dir}/`;
    return keys.slice(lowerBound(keys, prefix), lowerBound(keys, folderEnd(prefix)));
  }

  /** Drop all entries; used to rebuild the index from a commit. */
  clear(): void {
    this.conflicts = 0;
    this.entries = new Map();
    this.keys = [];
    this.added = new Set();
    this.removed = 0;
    this.loaded = true;
    this.dirty = true;
    this.trees.clear();
  }

  /** All keys in index order (stage-0 keys are paths). */
  sortedKeys(): string[] {
    if (this.added.size > 0 || this.removed > 0) {
      const kept = this.removed > 0 ? this.keys.filter((k) => this.entries.has(k)) : this.keys;
      const fresh = [...this.added].filter((k) => this.entries.has(k)).sort(comparePaths);
      this.keys = fresh.length === 0 ? kept : mergeSorted(kept, fresh);
      this.added = new Set();
      this.removed = 0;
    }
    return this.keys;
  }

  entry(key: string): Buffer {
    return this.entries.get(key)!;
  }

  /** Write the entries to `.git/index` (temp + fsync + rename, after pending objects are synced). */
  async write(ctx: GitCtx): Promise<void> {
    const keys = this.sortedKeys();
    const pieces = serializeIndex(keys, this.entries);
    await ctx.durable.promises.writeFile(this.file, pieces);
    const st = await fsp.stat(this.file, { bigint: true });
    this.stamp = { ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, trailer: pieces[pieces.length - 1]! };
    this.loaded = true;
    this.dirty = false;
  }

  private dropTrees(p: string): void {
    this.trees.delete('');
    for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) this.trees.delete(p.slice(0, i + 1));
  }
}

function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  const out = new Array<string>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) {
    const c = comparePaths(a[i]!, b[j]!);
    if (c === 0) j++; // a key deleted and added again is in both
    else out[k++] = c < 0 ? a[i++]! : b[j++]!;
  }
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  out.length = k;
  return out;
}

const states = new WeakMap<GitCtx, IndexState>();

/** The in-memory index of this repository context. */
export function indexState(ctx: GitCtx): IndexState {
  let s = states.get(ctx);
  if (s === undefined || s.file !== path.join(ctx.gitdir, 'index')) {
    s = new IndexState(ctx.gitdir);
    states.set(ctx, s);
  }
  return s;
}

/**
 * Replace the index with the entries of a commit's tree, like `git read-tree`.
 * Stats are zero so that both git and cmf-sage re-hash each file on the next
 * status instead of trusting a stat that was never taken.
 */
export async function rebuildIndexFromCommit(ctx: GitCtx, sha: string): Promise<number> {
  const a = gitArgs(ctx);
  const files: { filepath: string; oid: string; mode: number }[] = [];
  await git.walk({
    ...a,
    cache: {},
    trees: [git.TREE({ ref: sha })],
    map: async (filepath, [entry]) => {
      if (!entry || filepath === '.') return true;
      if ((await entry.type()) === 'blob') {
        files.push({ filepath, oid: await entry.oid(), mode: await entry.mode() });
      }
      return true;
    },
  });
  // A corrupt index cannot be loaded to be cleared: set it aside (kept for a post-mortem).
  await fsp.rename(path.join(ctx.gitdir, 'index'), path.join(ctx.gitdir, 'index.corrupt')).catch(() => undefined);
  const state = indexState(ctx);
  state.invalidate();
  state.clear();
  for (const f of files) state.set(f.filepath, makeEntry(Buffer.from(f.filepath), f.mode, Buffer.from(f.oid, 'hex')));
  try {
    await state.write(ctx);
  } catch (err) {
    state.invalidate();
    throw err;
  }
  return files.length;
}

/** Is this path an entry of the index (`git ls-files --error-unmatch`)? */
export function indexHas(ctx: GitCtx, filepath: string): boolean {
  const state = indexState(ctx);
  state.load();
  return state.has(filepath);
}

/** The index file parses and its checksum is right; a missing index counts as readable. */
export async function indexFileReads(gitdir: string): Promise<boolean> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(path.join(gitdir, 'index'));
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
  try {
    parseIndex(buf);
    return true;
  } catch {
    return false;
  }
}

import { crashPoint } from '../faults.js';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fsyncDir, removeStaleTemps, tempPathFor } from '../fsutil/atomic.js';
import { describeFsError } from '../errors.js';
import type { Logger } from '../log.js';
import { copyAndHash, defaultOpenTemp, SourceChangedError, type OpenTemp } from './copy.js';
import { md5File, type FileDigest } from './hash.js';
import { makeDirs } from './dirs.js';
import { objectKey } from './md5.js';

export { SourceChangedError } from './copy.js';

export interface DvcCacheOptions {
  /** Told once per damaged object that gets replaced (field fault B05). */
  logger?: Pick<Logger, 'warn'>;
  /** Test seam: how the temp file is opened. Lets tests inject ENOSPC/EACCES. */
  openTemp?: OpenTemp;
}

export interface AddResult extends FileDigest {
  objectPath: string;
  /** false when a verified, identical object was already there. */
  created: boolean;
}

const DIR_MODE = 0o755;
const OBJECT_MODE = 0o444;

/**
 * The DVC 3 content-addressed cache: `<root>/files/md5/<2 hex>/<30 hex>`.
 * Objects are written to a temp file and renamed, so a final name never holds
 * partial content. Directory fsyncs are deferred to flush() so a batch of adds
 * costs one round of directory syncs.
 */
export class DvcCache {
  readonly root: string;
  /** `<root>/files/md5`: the object db; temp files live here until renamed. */
  private readonly db: string;
  private readonly logger?: Pick<Logger, 'warn'>;
  private readonly openTemp: OpenTemp;
  private readonly knownDirs = new Set<string>();
  private readonly dirtyDirs = new Set<string>();
  /**
   * Sizes of objects this instance wrote or verified recently, so has() need
   * not rehash. Bounded: watch runs for months, and an unbounded map grew by
   * ~100 bytes per result recorded; an object that fell out is rehashed.
   */
  private readonly sizes = new BoundedMap<string, number>(SIZES_KEPT);

  constructor(root: string, opts: DvcCacheOptions = {}) {
    this.root = path.resolve(root);
    this.db = path.join(this.root, 'files', 'md5');
    this.logger = opts.logger;
    this.openTemp = opts.openTemp ?? defaultOpenTemp;
  }

  objectPath(md5: string): string {
    const [dir, rest] = objectKey(md5);
    return path.join(this.db, dir, rest);
  }

  /**
   * Copy `src` into the cache, hashing while copying (one read of the source).
   * Throws SourceChangedError if the file changed meanwhile, a UserError from
   * describeFsError on fs failures; in both cases no temp file is left.
   */
  async addFile(src: string): Promise<AddResult> {
    // The md5 is unknown until the copy ends, so the temp sits in the db root
    // (same file system as every object dir) and is renamed into its fan-out dir.
    let tmp: string | undefined;
    try {
      await this.ensureDir(this.db);
      tmp = tempPathFor(path.join(this.db, 'incoming'));
      const digest = await copyAndHash(src, tmp, this.openTemp);
      const final = this.objectPath(digest.md5);
      await this.ensureDir(path.dirname(final));
      const existing = await this.inspectExisting(final, digest);
      if (existing === 'good') {
        await fsp.rm(tmp, { force: true });
        this.sizes.set(digest.md5, digest.size);
        return { ...digest, objectPath: final, created: false };
      }
      if (existing === 'bad') {
        this.logger?.warn(
          { object: final, md5: digest.md5, size: digest.size },
          'replacing a damaged DVC cache object (wrong size or content, e.g. left by an interrupted copy)',
        );
      }
      crashPoint('cache.rename');
      await fsp.rename(tmp, final);
      tmp = undefined;
      this.dirtyDirs.add(path.dirname(final));
      this.sizes.set(digest.md5, digest.size);
      return { ...digest, objectPath: final, created: true };
    } catch (err) {
      if (tmp) await fsp.rm(tmp, { force: true }).catch(() => undefined);
      if (err instanceof SourceChangedError || !isErrno(err)) throw err;
      const ue = describeFsError(err, `copying ${src} into the DVC cache`);
      ue.cause = err;
      throw ue;
    }
  }

  /** fsync every directory changed since the last flush (new objects, new dirs). */
  async flush(): Promise<void> {
    const dirs = [...this.dirtyDirs];
    this.dirtyDirs.clear();
    try {
      for (const dir of dirs) await fsyncDir(dir);
    } catch (err) {
      for (const dir of dirs) this.dirtyDirs.add(dir);
      throw isErrno(err) ? describeFsError(err, 'syncing the DVC cache to disk') : err;
    }
  }

  /** True if the object exists with the right size (known sizes) or the right content (otherwise). */
  async has(md5: string): Promise<boolean> {
    const file = this.objectPath(md5);
    const known = this.sizes.get(md5);
    if (known === undefined) return this.verify(md5);
    try {
      const st = await fsp.stat(file);
      return st.isFile() && st.size === known;
    } catch (err) {
      if (isErrno(err) && err.code === 'ENOENT') return false;
      throw err;
    }
  }

  /** Rehash the object and compare with its name. */
  async verify(md5: string): Promise<boolean> {
    try {
      const { md5: actual, size } = await md5File(this.objectPath(md5));
      if (actual !== md5) return false;
      this.sizes.set(md5, size);
      return true;
    } catch (err) {
      if (isErrno(err) && (err.code === 'ENOENT' || err.code === 'EISDIR')) return false;
      throw err;
    }
  }

  async remove(md5: string): Promise<void> {
    const file = this.objectPath(md5);
    await fsp.rm(file, { force: true });
    this.sizes.delete(md5);
    this.dirtyDirs.add(path.dirname(file));
  }

  /** md5 of every file object (`.dir` manifests and temp files are skipped). */
  async *list(): AsyncIterable<string> {
    for (const prefix of await readdirOrEmpty(this.db)) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const rest of await readdirOrEmpty(path.join(this.db, prefix))) {
        if (/^[0-9a-f]{30}$/.test(rest)) yield prefix + rest;
      }
    }
  }

  /**
   * Remove temp files a crash left in the db and its object dirs. Call at
   * startup only: a concurrent writer's in-progress temp looks the same.
   */
  async cleanTemps(): Promise<number> {
    let removed = await removeStaleTemps(this.db);
    for (const prefix of await readdirOrEmpty(this.db)) {
      if (/^[0-9a-f]{2}$/.test(prefix)) removed += await removeStaleTemps(path.join(this.db, prefix));
    }
    return removed;
  }

  /**
   * Is there already a correct object under `final`? A file of the right name
   * proves nothing (B05: a killed copy leaves a truncated object), so check
   * size, then content.
   */
  private async inspectExisting(final: string, digest: FileDigest): Promise<'missing' | 'good' | 'bad'> {
    let st;
    try {
      st = await fsp.lstat(final);
    } catch (err) {
      if (isErrno(err) && err.code === 'ENOENT') return 'missing';
      throw err;
    }
    if (!st.isFile()) {
      // rename() cannot replace a directory or follow a symlink sensibly: clear it first.
      await fsp.rm(final, { recursive: true, force: true });
      return 'bad';
    }
    if (st.size !== digest.size) return 'bad';
    try {
      if ((await md5File(final)).md5 !== digest.md5) return 'bad';
    } catch {
      return 'bad'; // unreadable (e.g. write-only, dvc #505): replace it
    }
    if ((st.mode & 0o777) !== OBJECT_MODE) await fsp.chmod(final, OBJECT_MODE);
    return 'good';
  }

  /** Create `dir` (0755 whatever the umask) once per instance; remember what needs an fsync. */
  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    for (const made of await makeDirs(dir, DIR_MODE)) this.dirtyDirs.add(path.dirname(made));
    this.knownDirs.add(dir);
  }
}

function isErrno(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).sort();
  } catch (err) {
    if (isErrno(err) && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return [];
    throw err;
  }
}

const SIZES_KEPT = 16_384;

/** A Map that forgets its oldest entries beyond `limit` (insertion order). */
class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly limit: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (this.has(key)) this.delete(key);
    super.set(key, value);
    if (this.size > this.limit) this.delete(this.keys().next().value as K);
    return this;
  }
}

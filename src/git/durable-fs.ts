import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fsyncDir, tempPathFor } from '../fsutil/atomic.js';

/**
 * An fs for isomorphic-git (passed as its `fs` parameter) that makes its
 * writes crash safe. isomorphic-git writes loose objects, the index and refs in
 * place with a plain writeFile and never fsyncs; here:
 *
 * - every writeFile goes to a temp file in the same directory and is renamed
 *   over the target, so neither a reader nor a kill -9 ever sees a torn file;
 * - with `fsync` on, each temp file is fsynced before its rename (a renamed but
 *   unsynced new file can come back empty after power loss, and git fsck
 *   rejects an empty object even when it is dangling);
 * - the directory entries of new loose objects (and new object directories)
 *   are collected and fsynced as a group just before the next non-object write
 *   (index, config, HEAD, refs/*): after power loss, a ref or the index never
 *   names an object that did not reach disk;
 * - a non-object write fsyncs its directory after the rename, so the ref update
 *   itself is durable before the caller goes on.
 *
 * Object temp files are named `tmp_obj_*` like git's own, which git fsck skips
 * silently and git gc prunes. Other temp files start with a dot, which git's
 * ref scanner ignores.
 */
export interface DurableFs {
  /** What isomorphic-git reads (it binds `fs.promises` when that is enumerable). */
  readonly promises: DurableFsPromises;
  /** fsync the directories of objects written so far (normally done implicitly). */
  barrier(): Promise<void>;
  /** Counters, for tests and benchmarks. */
  readonly counters: { writes: number; fileSyncs: number; dirSyncs: number };
}

type WriteOpts = BufferEncoding | { encoding?: BufferEncoding | null; mode?: number } | undefined | null;

export interface DurableFsPromises {
  readFile(p: string, opts?: unknown): Promise<string | Buffer>;
  writeFile(p: string, data: string | Uint8Array, opts?: WriteOpts): Promise<void>;
  unlink(p: string): Promise<void>;
  readdir(p: string): Promise<string[]>;
  mkdir(p: string, opts?: unknown): Promise<void>;
  rmdir(p: string): Promise<void>;
  rm(p: string, opts?: { recursive?: boolean; force?: boolean }): Promise<void>;
  stat(p: string): Promise<import('node:fs').Stats>;
  lstat(p: string): Promise<import('node:fs').Stats>;
  readlink(p: string, opts?: unknown): Promise<string | Buffer>;
  symlink(target: string, p: string): Promise<void>;
  chmod(p: string, mode: number): Promise<void>;
}

const LOOSE_OBJECT = /[\\/]objects[\\/][0-9a-f]{2}[\\/][0-9a-f]{38}$/;

export function createDurableFs(opts: { fsync?: boolean } = {}): DurableFs {
  const sync = opts.fsync ?? true;
  const counters = { writes: 0, fileSyncs: 0, dirSyncs: 0 };
  // Directories with new entries (objects, object dirs) not yet fsynced.
  let pending = new Set<string>();

  async function barrier(): Promise<void> {
    if (!sync || pending.size === 0) return;
    const dirs = [...pending];
    pending = new Set();
    try {
      await Promise.all(dirs.map((d) => fsyncDir(d).catch(ignoreVanished)));
      counters.dirSyncs += dirs.length;
    } catch (err) {
      // Keep them pending so the next barrier retries before a ref moves.
      for (const d of dirs) pending.add(d);
      throw err;
    }
  }

  async function writeFile(p: string, data: string | Uint8Array, wopts?: WriteOpts): Promise<void> {
    const isObject = LOOSE_OBJECT.test(p);
    // Everything that is not an object may name objects: they go to disk first.
    if (!isObject) await barrier();
    const encoding = typeof wopts === 'string' ? wopts : (wopts?.encoding ?? undefined);
    const mode = (typeof wopts === 'object' && wopts?.mode) || (isObject ? 0o444 : 0o666);
    const dir = path.dirname(p);
    const tmp = isObject ? path.join(dir, `tmp_obj_${randomBytes(6).toString('hex')}`) : tempPathFor(p);
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(tmp, 'wx', mode);
      await fh.writeFile(data, encoding ? { encoding } : undefined);
      if (sync) {
        await fh.sync();
        counters.fileSyncs++;
      }
      await fh.close();
      fh = undefined;
      await fsp.rename(tmp, p);
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw err; // ENOENT here makes isomorphic-git mkdir the parent and retry
    }
    counters.writes++;
    if (isObject) pending.add(dir);
    else if (sync) {
      await fsyncDir(dir);
      counters.dirSyncs++;
    }
  }

  const promises: DurableFsPromises = {
    readFile: (p, o) => fsp.readFile(p, o as never) as Promise<string | Buffer>,
    writeFile,
    unlink: (p) => fsp.unlink(p),
    readdir: (p) => fsp.readdir(p),
    async mkdir(p, o) {
      await fsp.mkdir(p, o as never);
      // The new directory's entry in its parent must be durable before a ref names what is inside.
      pending.add(path.dirname(p));
    },
    rmdir: (p) => fsp.rmdir(p),
    rm: (p, o) => fsp.rm(p, o),
    stat: (p) => fsp.stat(p),
    lstat: (p) => fsp.lstat(p),
    readlink: (p, o) => fsp.readlink(p, o as never) as Promise<string | Buffer>,
    symlink: (t, p) => fsp.symlink(t, p),
    chmod: (p, m) => fsp.chmod(p, m),
  };

  return { promises, barrier, counters };
}

/**
 * A git gc run by the CLI meanwhile may pack loose objects and remove their
 * emptied directory: what was in it is then in a pack that gc synced itself.
 */
function ignoreVanished(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

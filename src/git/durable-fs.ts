import { crashPoint } from '../faults.js';
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
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
 *
 * `writeObjects` is the same path for many loose objects at once (the commit
 * fast path, objects.ts), with blocking syscalls in chunks instead of a
 * promise chain per file. From 128 objects on, with `fsync` on, it writes and
 * closes all temp files, makes them durable with one syncfs(2) (`sync -f`,
 * one child process per batch) instead of one fsync each, and only then
 * renames them: the order of git's `core.fsyncMethod=batch` (data of every
 * new object durable, then the renames, then their folders, then index and
 * refs). The barrier likewise syncs 128 or more folders with one syncfs. Here
 * an fsync costs ~0.15-0.3 ms of disk wait and ~0.07 ms of CPU per file, a
 * syncfs 20-80 ms per batch on a busy disk (it also flushes whatever else is
 * dirty on that file system): they break even around 100 files. Where
 * `sync -f` is missing or fails, every file and folder is fsynced as before.
 */
export interface DurableFs {
  /** What isomorphic-git reads (it binds `fs.promises` when that is enumerable). */
  readonly promises: DurableFsPromises;
  /**
   * Write loose objects (`objectsDir/xx/yyyy…` ← bytes as stored), each
   * through a temp file and a rename; an existing object is replaced by an
   * identical one. Their directory entries are fsynced by the next barrier.
   */
  writeObjects(objectsDir: string, objects: readonly LooseObjectFile[]): Promise<void>;
  /** fsync the directories of objects written so far (normally done implicitly). */
  barrier(): Promise<void>;
  /** Counters, for tests and benchmarks. */
  readonly counters: { writes: number; fileSyncs: number; dirSyncs: number; fsSyncs: number };
}

export interface DurableFsOptions {
  /** fsync (default true). */
  fsync?: boolean;
  /** Use one syncfs for a large batch of new objects or folders (default true). */
  batchSync?: boolean;
}

export interface LooseObjectFile {
  oid: string;
  /** The file's bytes: the zlib-compressed object. */
  deflated: Uint8Array;
}

type WriteOpts = BufferEncoding | { encoding?: BufferEncoding | null; mode?: number } | undefined | null;

export interface DurableFsPromises {
  readFile(p: string, opts?: unknown): Promise<string | Buffer>;
  /** `data` may be a list of pieces, written in order with gathered writes (no joined copy). */
  writeFile(p: string, data: string | Uint8Array | readonly Uint8Array[], opts?: WriteOpts): Promise<void>;
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

/** Objects per chunk: bounds the open descriptors and how long the event loop is blocked. */
const CHUNK = 128;
/**
 * From this many files (or folders) to make durable, one syncfs instead of an
 * fsync each. Below it, per-file fsyncs are cheap enough, and a small commit
 * does not wait for whatever else is dirty on the file system.
 */
const SYNCFS_MIN = 128;

export function createDurableFs(opts: DurableFsOptions = {}): DurableFs {
  const sync = opts.fsync ?? true;
  const counters = { writes: 0, fileSyncs: 0, dirSyncs: 0, fsSyncs: 0 };
  // Directories with new entries (objects, object dirs) not yet fsynced.
  let pending = new Set<string>();
  let syncfsUsable = opts.batchSync ?? true;

  /** syncfs(2) of the file system holding `dir`; false when it cannot be used (then fsync each file). */
  async function syncFileSystem(dir: string): Promise<boolean> {
    if (!syncfsUsable) return false;
    try {
      await runSyncF(dir);
      counters.fsSyncs++;
      return true;
    } catch {
      // No coreutils sync (or one without -f), or it failed: per-file fsync
      // from now on, which also reports a real I/O error to the caller.
      syncfsUsable = false;
      return false;
    }
  }

  async function barrier(): Promise<void> {
    if (!sync || pending.size === 0) return;
    const dirs = [...pending];
    pending = new Set();
    try {
      if (dirs.length >= SYNCFS_MIN && sameFileSystem(dirs) && (await syncFileSystem(dirs[0]!))) return;
      await Promise.all(dirs.map((d) => fsyncDir(d).catch(ignoreVanished)));
      counters.dirSyncs += dirs.length;
    } catch (err) {
      // Keep them pending so the next barrier retries before a ref moves.
      for (const d of dirs) pending.add(d);
      throw err;
    }
  }

  async function writeFile(p: string, data: string | Uint8Array | readonly Uint8Array[], wopts?: WriteOpts): Promise<void> {
    const isObject = LOOSE_OBJECT.test(p);
    // Everything that is not an object may name objects: they go to disk first.
    crashPoint(isObject ? 'git.object' : 'git.ref');
    if (!isObject) await barrier();
    const encoding = typeof wopts === 'string' ? wopts : (wopts?.encoding ?? undefined);
    const mode = (typeof wopts === 'object' && wopts?.mode) || (isObject ? 0o444 : 0o666);
    const dir = path.dirname(p);
    const tmp = isObject ? path.join(dir, `tmp_obj_${randomBytes(6).toString('hex')}`) : tempPathFor(p);
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(tmp, 'wx', mode);
      if (Array.isArray(data)) await writePieces(fh, data);
      else await fh.writeFile(data as string | Uint8Array, encoding ? { encoding } : undefined);
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

  async function writeObjects(objectsDir: string, objects: readonly LooseObjectFile[]): Promise<void> {
    if (objects.length === 0) return;
    if (sync && syncfsUsable && objects.length >= SYNCFS_MIN) await writeBatch(objectsDir, objects);
    else await writeEach(objectsDir, objects);
  }

  /** Create a temp file beside object `oid` (creating its folder if needed). */
  function createTemp(objectsDir: string, oid: string, name: string): { fd: number; tmp: string } {
    crashPoint('git.object');
    const dir = path.join(objectsDir, oid.slice(0, 2));
    const tmp = path.join(dir, name);
    try {
      return { fd: fs.openSync(tmp, 'wx', 0o444), tmp };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fs.mkdirSync(dir, { recursive: true });
      pending.add(objectsDir);
      return { fd: fs.openSync(tmp, 'wx', 0o444), tmp };
    }
  }

  /** Move a finished temp file into place. */
  function publish(objectsDir: string, tmp: string, oid: string): void {
    const dir = path.join(objectsDir, oid.slice(0, 2));
    fs.renameSync(tmp, path.join(dir, oid.slice(2)));
    pending.add(dir);
    counters.writes++;
  }

  /**
   * Many objects to make durable: every temp file written and closed, their
   * data made durable by one syncfs (or, if that fails, an fsync each), then
   * all renamed into place.
   */
  async function writeBatch(objectsDir: string, objects: readonly LooseObjectFile[]): Promise<void> {
    const stem = `tmp_obj_${randomBytes(6).toString('hex')}`;
    const temps: string[] = [];
    let published = 0;
    try {
      for (let i = 0; i < objects.length; i++) {
        if (i > 0 && i % CHUNK === 0) await yieldToLoop();
        const t = createTemp(objectsDir, objects[i]!.oid, `${stem}${i.toString(36)}`);
        temps.push(t.tmp);
        try {
          writeAll(t.fd, objects[i]!.deflated);
        } finally {
          fs.closeSync(t.fd);
        }
      }
      if (!(await syncFileSystem(objectsDir))) {
        for (let i = 0; i < temps.length; i += CHUNK) {
          const chunk = temps.slice(i, i + CHUNK);
          await Promise.all(chunk.map(fsyncPath));
          counters.fileSyncs += chunk.length;
        }
      }
      for (; published < temps.length; published++) {
        if (published > 0 && published % CHUNK === 0) await yieldToLoop();
        publish(objectsDir, temps[published]!, objects[published]!.oid);
      }
    } catch (err) {
      for (const t of temps.slice(published)) fs.rmSync(t, { force: true });
      throw err;
    }
  }

  /** Few objects (or no fsync): a temp file beside each, fsynced (in parallel), then renamed. */
  async function writeEach(objectsDir: string, objects: readonly LooseObjectFile[]): Promise<void> {
    const stem = `tmp_obj_${randomBytes(6).toString('hex')}`;
    for (let start = 0; start < objects.length; start += CHUNK) {
      if (start > 0) await yieldToLoop();
      const open: { fd: number; tmp: string; oid: string }[] = [];
      try {
        for (let i = start; i < Math.min(objects.length, start + CHUNK); i++) {
          const o = objects[i]!;
          const t = { ...createTemp(objectsDir, o.oid, `${stem}${i.toString(36)}`), oid: o.oid };
          open.push(t);
          writeAll(t.fd, o.deflated);
          if (!sync) {
            // Nothing to make durable: rename at once, so a kill strands at most one temp file.
            fs.closeSync(t.fd);
            t.fd = -1;
            publish(objectsDir, t.tmp, o.oid);
            open.pop();
          }
        }
        await Promise.all(open.map((t) => fsyncFd(t.fd)));
        counters.fileSyncs += open.length;
        while (open.length > 0) {
          const t = open[0]!;
          fs.closeSync(t.fd);
          t.fd = -1;
          publish(objectsDir, t.tmp, t.oid);
          open.shift();
        }
      } catch (err) {
        for (const t of open) {
          if (t.fd >= 0) fs.closeSync(t.fd);
          fs.rmSync(t.tmp, { force: true });
        }
        throw err;
      }
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

  return { promises, writeObjects, barrier, counters };
}

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

async function fsyncPath(file: string): Promise<void> {
  const fh = await fsp.open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** `sync -f dir`: syncfs(2) on dir's file system (coreutils ≥ 8.24, busybox). */
function runSyncF(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sync', ['-f', dir], { timeout: 120_000 }, (err) => (err ? reject(err) : resolve()));
  });
}

/** Are all these directories on one file system (so one syncfs covers them)? */
function sameFileSystem(dirs: string[]): boolean {
  const devs = new Set<number>();
  for (const d of dirs) {
    const st = fs.statSync(d, { throwIfNoEntry: false });
    if (st) devs.add(st.dev);
  }
  return devs.size <= 1;
}

function yieldToLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/**
 * A git gc run by the CLI meanwhile may pack loose objects and remove their
 * emptied directory: what was in it is then in a pack that gc synced itself.
 */
function ignoreVanished(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

/** Gathered writes of `pieces`, IOV_MAX at a time; a short write is finished piece by piece. */
async function writePieces(fh: fsp.FileHandle, pieces: readonly Uint8Array[]): Promise<void> {
  const IOV = 1024;
  for (let i = 0; i < pieces.length; i += IOV) {
    const group = pieces.slice(i, i + IOV);
    let done = (await fh.writev(group)).bytesWritten;
    for (const b of group) {
      if (done >= b.byteLength) {
        done -= b.byteLength;
        continue;
      }
      let off = done;
      done = 0;
      while (off < b.byteLength) off += (await fh.write(b, off, b.byteLength - off)).bytesWritten;
    }
  }
}

import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp, constants as fsc } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { fsyncDir } from '../fsutil/atomic.js';
import { isMd5 } from '../dvc/index.js';
import { isLocalRemote, remoteObjectUrl } from '../dvc/index.js';
import { makeDirs } from '../dvc/dirs.js';
import { mapPool } from '../util/pool.js';
import type { DvcRemote } from './config.js';
import {
  backoffMs,
  createAgent,
  describeNetError,
  isTransientError,
  isTransientStatus,
  readText,
  safeUrl,
  sleep,
  StallTimer,
  type Backoff,
} from './http.js';
import { EXIT_DENIED, EXIT_REJECTED, EXIT_UNREACHABLE } from './metadata.js';

/**
 * `cmf artifact push` (= `dvc push` of the pipeline's non-Metrics artifacts)
 * without dvc: each object of the workspace's DVC 3 cache goes to
 * `<remote>/files/md5/<2 hex>/<30 hex>`, the layout `dvc push` uses.
 *
 * - a local path remote (`cmf init local`): copied to a temp file beside the
 *   target while its md5 is computed, fsynced, checked against its name,
 *   made read-only (0444, as DVC does) and renamed into place; an object
 *   already there with the right size is skipped;
 * - an HTTP(S) remote (`cmf init osdfremote`: DVC's http remote with
 *   `method = PUT` and `Authorization: Bearer <token>`): `HEAD <object url>`
 *   first (200 with the right Content-Length: skip; 404: send), then
 *   `PUT <object url>` with the file streamed from disk (fixed length, constant
 *   memory at any size). Unless the object carries DVC's "verified" mode
 *   (0444), its md5 is computed while streaming and the last chunk is held
 *   back until it matches the name, so a damaged cache object is never
 *   completed on the server. 401/403 stop everything at once (no
 *   retry storm); 5xx, resets and stalls are retried with a new stream from
 *   the file each time.
 *
 * Up to `concurrency` objects move at once over keep-alive connections.
 */

export interface ArtifactProgress {
  objectsDone: number;
  objectsTotal: number;
  bytesDone: number;
  bytesTotal: number;
  sent: number;
  skipped: number;
}

export interface PushArtifactsOptions {
  workspace: string;
  /** md5s of the objects (file objects of non-Metrics artifacts). */
  objects: string[];
  remote: DvcRemote;
  /** Bearer token for an HTTP remote (token.ts finds it). */
  token?: string;
  /** Objects in flight at once (default 4). */
  concurrency?: number;
  logger: Logger;
  onProgress?: (p: ArtifactProgress) => void;
  dispatcher?: Dispatcher;
  /** Abort an HTTP request when no byte moved for this long (default 60 s). */
  stallMs?: number;
  /**
   * HTTP remote: when to compute the md5 while streaming. `auto` (default):
   * unless the cache object has mode 0444, which DVC itself takes as
   * "verified" (LocalHashFileDB.check; cmf-sage's cache sets it only after
   * checking the md5), so verified objects go out at wire speed and others
   * are checked; `always`: every object. The size is always checked. A
   * local remote always checks the md5 of the copy.
   */
  verify?: 'auto' | 'always';
  /** Further attempts per object after the first (default 5). */
  retries?: number;
  backoff?: Backoff;
  signal?: AbortSignal;
}

export interface PushArtifactsResult {
  sent: number;
  skipped: number;
  /** Bytes sent (skipped objects not counted). */
  bytes: number;
}

const CHUNK = 1 << 20;

export async function pushArtifacts(o: PushArtifactsOptions): Promise<PushArtifactsResult> {
  const objects = [...new Set(o.objects)];
  for (const m of objects) if (!isMd5(m)) throw new UserError(`cannot push artifact object "${m}": not a DVC md5 (directory objects are not supported)`, EXIT_REJECTED);
  const cache = path.resolve(o.workspace, '.dvc', 'cache', 'files', 'md5');
  const local = (m: string) => path.join(cache, m.slice(0, 2), m.slice(2));
  const sizes = new Map<string, number | undefined>();
  const verified = new Set<string>();
  for (const m of objects) {
    const st = await fsp.stat(local(m)).catch(() => undefined);
    sizes.set(m, st?.isFile() ? st.size : undefined);
    if (st?.isFile() && (st.mode & 0o777) === 0o444 && o.verify !== 'always') verified.add(m);
  }
  const progress: ArtifactProgress = {
    objectsDone: 0,
    objectsTotal: objects.length,
    bytesDone: 0,
    bytesTotal: [...sizes.values()].reduce<number>((a, b) => a + (b ?? 0), 0),
    sent: 0,
    skipped: 0,
  };
  const result: PushArtifactsResult = { sent: 0, skipped: 0, bytes: 0 };
  const report = () => o.onProgress?.({ ...progress });
  const missingLocally = (m: string) =>
    new UserError(`artifact object ${m} is neither in the DVC cache (${local(m)}) nor on the remote ${safeUrl(o.remote.url)}; it cannot be pushed`, EXIT_REJECTED);

  const kind = remoteKind(o.remote);
  const finish = (m: string, sent: boolean, size: number) => {
    progress.objectsDone++;
    if (sent) {
      result.sent++;
      progress.sent++;
      result.bytes += size;
    } else {
      result.skipped++;
      progress.skipped++;
      progress.bytesDone += size; // counted as done, so the bar reaches the end
    }
    report();
  };

  if (kind === 'local') {
    const root = o.remote.url;
    const touched = new Set<string>();
    await mapPool(objects, o.concurrency ?? 4, async (m) => {
      const size = sizes.get(m);
      const target = remoteObjectUrl(root, m);
      const there = await fsp.stat(target).then((s) => (s.isFile() ? s.size : -1), () => -1);
      if (there >= 0 && (size === undefined || there === size)) return finish(m, false, size ?? there);
      if (size === undefined) throw missingLocally(m);
      await copyVerified(local(m), target, m, size, (n) => {
        progress.bytesDone += n;
        report();
      });
      touched.add(path.dirname(target));
      finish(m, true, size);
    });
    for (const d of touched) await fsyncDir(d);
    o.logger.info({ remote: root, ...result }, 'artifacts pushed to the DVC remote');
    return result;
  }

  // HTTP(S)
  if (!o.token) {
    o.logger.debug({ remote: safeUrl(o.remote.url) }, 'no token for the DVC remote; sending without Authorization');
  }
  const own = o.dispatcher ? undefined : createAgent({ connections: o.concurrency ?? 4 });
  const dispatcher = o.dispatcher ?? own!;
  const abort = new AbortController();
  const onOuter = () => abort.abort(o.signal!.reason);
  o.signal?.addEventListener('abort', onOuter, { once: true });
  const http = new HttpRemote(o, dispatcher, abort.signal);
  let firstFatal: unknown;
  try {
    await mapPool(objects, o.concurrency ?? 4, async (m) => {
      if (firstFatal) return;
      try {
        const size = sizes.get(m);
        const url = remoteObjectUrl(o.remote.url, m);
        const there = await http.exists(url, size);
        if (there) return finish(m, false, size ?? 0);
        if (size === undefined) throw missingLocally(m);
        let counted = 0;
        await http.put(url, local(m), m, size, !verified.has(m), (n) => {
          counted += n;
          progress.bytesDone += n;
          report();
        }, () => {
          progress.bytesDone -= counted; // a failed attempt starts over
          counted = 0;
        });
        finish(m, true, size);
      } catch (err) {
        if (!firstFatal) {
          firstFatal = err;
          abort.abort(err); // stop the other uploads now
        }
      }
    });
  } finally {
    o.signal?.removeEventListener('abort', onOuter);
    await own?.close();
  }
  if (firstFatal) throw firstFatal;
  o.logger.info({ remote: safeUrl(o.remote.url), ...result }, 'artifacts pushed to the DVC remote');
  return result;
}

function remoteKind(r: DvcRemote): 'local' | 'http' {
  if (isLocalRemote(r.url)) return 'local';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(r.url)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') {
    const method = (r.options.method ?? 'PUT').toUpperCase();
    if (method !== 'PUT') {
      throw new UserError(`the DVC remote "${r.name}" (${safeUrl(r.url)}) uploads with ${method}; cmf-sage pushes with PUT only (set "method = PUT", as cmf init osdfremote does)`, EXIT_REJECTED);
    }
    return 'http';
  }
  throw new UserError(
    `the DVC remote "${r.name}" is ${safeUrl(r.url)}: cmf-sage pushes artifacts to a local folder or an HTTP(S) (osdf) remote only; push this one with "cmf artifact push" or "dvc push"`,
    EXIT_REJECTED,
  );
}

/** Copy `src` to `target` through a temp file, checking the md5 on the way; 0444 like DVC's objects. */
async function copyVerified(src: string, target: string, md5: string, size: number, onBytes: (n: number) => void): Promise<void> {
  await makeDirs(path.dirname(target), 0o755);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const input = await fsp.open(src, fsc.O_RDONLY);
  let out: fsp.FileHandle | undefined;
  try {
    out = await fsp.open(tmp, 'wx', 0o644);
    const hash = createHash('md5');
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size, 1)));
    let pos = 0;
    for (;;) {
      const { bytesRead } = await input.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      hash.update(chunk);
      await out.write(chunk, 0, bytesRead, pos);
      pos += bytesRead;
      onBytes(bytesRead);
    }
    const got = hash.digest('hex');
    if (got !== md5 || pos !== size) {
      throw new UserError(`the DVC cache object ${src} is damaged (md5 ${got}, ${pos} bytes; its name says ${md5}, ${size} bytes); it was not pushed`, EXIT_REJECTED);
    }
    await out.sync();
    await out.close();
    out = undefined;
    await fsp.chmod(tmp, 0o444);
    await fsp.rename(tmp, target);
  } catch (err) {
    await out?.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`copying ${md5} to the DVC remote ${path.dirname(path.dirname(path.dirname(target)))} failed: ${code ?? (err as Error).message}`, code === 'EACCES' || code === 'EPERM' ? 77 : 74);
  } finally {
    await input.close();
  }
}

class DamagedObject extends Error {}

class HttpRemote {
  private readonly headers: Record<string, string>;
  private readonly stallMs: number;
  private readonly retries: number;

  constructor(private readonly o: PushArtifactsOptions, private readonly dispatcher: Dispatcher, private readonly signal: AbortSignal) {
    this.headers = o.token ? { authorization: `Bearer ${o.token}` } : {};
    const auth = o.remote.options.custom_auth_header;
    if (o.token && auth && auth.toLowerCase() !== 'authorization') this.headers = { [auth.toLowerCase()]: `Bearer ${o.token}` };
    this.stallMs = o.stallMs ?? 60_000;
    this.retries = o.retries ?? 5;
  }

  /** HEAD: true when the object is there with the expected size (any size when ours is unknown). */
  async exists(url: string, size: number | undefined): Promise<boolean> {
    return this.withRetries(url, 'HEAD', async (signal) => {
      const res = await request(url, { method: 'HEAD', headers: this.headers, dispatcher: this.dispatcher, signal });
      await res.body.dump();
      if (res.statusCode === 200) {
        const len = Number(res.headers['content-length']);
        return { done: size === undefined || len === size };
      }
      if (res.statusCode === 404 || res.statusCode === 410) return { done: false };
      return this.judge(res.statusCode, '', url, 'HEAD', () => ({ done: false }));
    });
  }

  async put(url: string, file: string, md5: string, size: number, hash: boolean, onBytes: (n: number) => void, onRestart: () => void): Promise<void> {
    await this.withRetries(url, 'PUT', async (signal, timer) => {
      onRestart();
      const body = size === 0 ? Buffer.alloc(0) : fileStream(file, hash ? md5 : undefined, size, (n) => {
        timer.poke();
        onBytes(n);
      });
      if (size === 0 && md5 !== 'd41d8cd98f00b204e9800998ecf8427e') throw new DamagedObject(`${file} is empty but named ${md5}`);
      const res = await request(url, {
        method: 'PUT',
        headers: { ...this.headers, 'content-length': String(size), 'content-type': 'application/octet-stream' },
        // undici takes an async iterable (fixed length with content-length); its types only list Readable
        body: body as unknown as Readable,
        dispatcher: this.dispatcher,
        signal,
      });
      const text = await readText(res.body, 4096);
      if (res.statusCode >= 200 && res.statusCode < 300) return { done: true };
      return this.judge(res.statusCode, text, url, 'PUT', () => {
        throw new UserError(`the DVC remote rejected PUT ${safeUrl(url)} (HTTP ${res.statusCode}${text ? `: ${oneLine(text)}` : ''})`, EXIT_REJECTED);
      });
    });
  }

  private judge<T>(status: number, _text: string, url: string, method: string, otherwise: () => T): T | { retry: string } {
    if (status === 401 || status === 403) {
      throw new UserError(
        `the DVC remote refused the token (HTTP ${status} for ${method} ${safeUrl(url)}): set CMF_SAGE_REMOTE_TOKEN or --token-file to a valid token for ${safeUrl(this.o.remote.url)}`,
        EXIT_DENIED,
      );
    }
    if (isTransientStatus(status)) return { retry: `HTTP ${status}` };
    return otherwise();
  }

  private async withRetries<T>(url: string, method: string, fn: (signal: AbortSignal, timer: StallTimer) => Promise<{ done: T } | { retry: string }>): Promise<T> {
    let last = '';
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) {
        const delay = backoffMs(attempt, this.o.backoff);
        this.o.logger.warn({ method, url: safeUrl(url), attempt, of: this.retries + 1, problem: last, retryInMs: delay }, 'DVC remote request failed; retrying');
        await sleep(delay, this.signal);
      }
      const timer = new StallTimer(this.stallMs, this.signal);
      try {
        const r = await fn(timer.signal, timer);
        if ('done' in r) return r.done;
        last = r.retry;
      } catch (err) {
        if (err instanceof UserError) throw err;
        if (err instanceof DamagedObject) throw new UserError(`${err.message}; it was not pushed`, EXIT_REJECTED);
        if (this.signal.aborted) throw this.signal.reason ?? err;
        const stall = timer.stalled();
        if (!stall && !isTransientError(err)) {
          throw new UserError(`${method} ${safeUrl(url)} failed: ${describeNetError(err)}`, EXIT_UNREACHABLE);
        }
        last = stall ? `no progress for ${stall.ms} ms` : describeNetError(err);
      } finally {
        timer.done();
      }
    }
    throw new UserError(`the DVC remote ${safeUrl(this.o.remote.url)} did not take ${method} ${safeUrl(url)} after ${this.retries + 1} attempts (last: ${last}); run push again later`, EXIT_UNREACHABLE);
  }
}

/**
 * Chunk buffers per upload, used in turn. undici asks for the next chunk
 * only once the socket took the previous one: its write returned true
 * (flushed to the kernel) or 'drain' fired (the queue emptied), so a buffer
 * is free again two chunks later; three leave a margin. Fresh buffers per
 * chunk cost more than the upload itself: each MiB of new external memory
 * pushes V8 towards a full garbage collection, and at 1 GB/s that was one
 * every ~20 ms, a third of a core. A violation could not go unnoticed:
 * the uploaded bytes would not match their md5 (the tests check on the
 * server side).
 */
const RING = 3;

/**
 * The file as a fixed-length stream of chunks read from disk (constant
 * memory: RING buffers of CHUNK bytes), with its md5 computed on the way
 * when `md5` is given; the last chunk is only yielded once size and md5
 * match, so a damaged object never arrives whole (the server sees a short
 * body and drops it).
 */
async function* fileStream(file: string, md5: string | undefined, size: number, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  const fh = await fsp.open(file, fsc.O_RDONLY);
  const ring = Array.from({ length: Math.min(RING, Math.ceil(size / CHUNK)) }, () => Buffer.allocUnsafe(Math.min(CHUNK, size)));
  let k = 0;
  // the next chunk is read from disk while this one goes out
  const readAt = async (at: number): Promise<Buffer> => {
    const want = Math.min(CHUNK, size - at);
    const buf = ring[k++ % ring.length]!;
    const { bytesRead } = await fh.read(buf, 0, want, at);
    return buf.subarray(0, bytesRead);
  };
  let next: Promise<Buffer> | undefined;
  try {
    const hash = md5 ? createHash('md5') : undefined;
    let pos = 0;
    next = readAt(0);
    while (pos < size) {
      const chunk: Buffer = await next!;
      next = undefined;
      if (chunk.length === 0) throw new DamagedObject(`${file} has ${pos} bytes, not ${size}`);
      if (pos + chunk.length < size) next = readAt(pos + chunk.length);
      hash?.update(chunk);
      pos += chunk.length;
      if (pos === size) {
        if ((await fh.stat()).size !== size) throw new DamagedObject(`the DVC cache object ${file} changed size while it was sent`);
        const got = hash?.digest('hex');
        if (got !== undefined && got !== md5) throw new DamagedObject(`the DVC cache object ${file} is damaged (md5 ${got}; its name says ${md5})`);
      }
      onBytes(chunk.length);
      yield chunk;
    }
  } finally {
    await next?.catch(() => undefined);
    await fh.close();
  }
}

function oneLine(s: string): string {
  const t = s.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return t.length > 160 ? `${t.slice(0, 160)}…` : t;
}

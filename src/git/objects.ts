import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { deflateSync, inflateSync, constants as zc } from 'node:zlib';
import git from 'isomorphic-git';
import { gitArgs, type GitCtx } from './context.js';
import type { LooseObjectFile } from './durable-fs.js';

/**
 * Git objects written without isomorphic-git: `<type> <len>\0<content>`,
 * named by its SHA-1 (node:crypto), stored as a loose object. The object —
 * and so its id — is exactly git's; only the zlib encoding of the file is a
 * choice (git reads any zlib stream):
 *
 * - objects up to 4 KiB (pointer blobs, small trees, commits) as a zlib
 *   stream of stored blocks, byte for byte what `git -c
 *   core.looseCompression=0 hash-object -w` writes. The file takes one disk
 *   block either way, and this skips zlib's per-call set-up (15-25 µs, more
 *   than all the rest of hashing a pointer; Node cannot reuse a zlib handle
 *   synchronously);
 * - larger ones (a folder's tree with thousands of entries) deflated with
 *   node:zlib at level 1, git's default for loose objects. The bytes may
 *   differ from git's own (Node bundles Chromium's zlib), as pako's did.
 */
const STORE_MAX = 4096;

export type ObjectType = 'blob' | 'tree' | 'commit';

/** `<type> <len>\0` followed by `content`, in one buffer. */
export function wrapObject(type: ObjectType, content: Uint8Array): Buffer {
  const header = `${type} ${content.length}\0`;
  const raw = Buffer.allocUnsafe(header.length + content.length);
  raw.write(header, 0, 'latin1');
  raw.set(content, header.length);
  return raw;
}

/** SHA-1 of a wrapped object (hex). */
export function objectId(raw: Uint8Array): string {
  return createHash('sha1').update(raw).digest('hex');
}

export function looseObjectPath(gitdir: string, oid: string): string {
  return path.join(gitdir, 'objects', oid.slice(0, 2), oid.slice(2));
}

/**
 * The new objects of one commit: collected (deduplicated; those already on
 * disk as loose objects skipped, as git and isomorphic-git do), then encoded
 * and written together through DurableFs.writeObjects.
 */
export class ObjectBatch {
  private readonly seen = new Set<string>();
  private readonly todo: { oid: string; raw: Buffer }[] = [];
  private readonly objectsDir: string;

  constructor(private readonly ctx: GitCtx) {
    this.objectsDir = `${path.join(ctx.gitdir, 'objects')}${path.sep}`;
  }

  /** Add a wrapped object; returns its id. */
  add(raw: Buffer, oid: string = objectId(raw)): string {
    if (this.seen.has(oid)) return oid;
    this.seen.add(oid);
    if (!fs.existsSync(`${this.objectsDir}${oid.slice(0, 2)}${path.sep}${oid.slice(2)}`)) this.todo.push({ oid, raw });
    return oid;
  }

  /** Encode and write everything added so far: one DurableFs batch (so one syncfs) per 64 MiB. */
  async flush(): Promise<number> {
    const n = this.todo.length;
    const objectsDir = path.join(this.ctx.gitdir, 'objects');
    let files: LooseObjectFile[] = [];
    let bytes = 0;
    for (const o of this.todo) {
      const deflated = encodeLoose(o.raw);
      files.push({ oid: o.oid, deflated });
      bytes += deflated.length;
      if (bytes >= FLUSH_BYTES) {
        await this.ctx.durable.writeObjects(objectsDir, files);
        files = [];
        bytes = 0;
      }
    }
    await this.ctx.durable.writeObjects(objectsDir, files);
    this.todo.length = 0;
    return n;
  }
}

const FLUSH_BYTES = 64 << 20;

/** The loose-object file for a wrapped object (see the top of this file). */
export function encodeLoose(raw: Uint8Array): Buffer {
  return raw.length <= STORE_MAX ? zlibStored(raw) : deflateSync(raw, { level: zc.Z_BEST_SPEED });
}

/** A zlib stream of stored (uncompressed) deflate blocks, as zlib writes at level 0. */
export function zlibStored(data: Uint8Array): Buffer {
  const blocks = Math.max(1, Math.ceil(data.length / 0xffff));
  const out = Buffer.allocUnsafe(2 + blocks * 5 + data.length + 4);
  out[0] = 0x78; // deflate, 32 KiB window
  out[1] = 0x01; // level "fastest", no dictionary, check bits
  let off = 2;
  for (let b = 0, pos = 0; b < blocks; b++) {
    const len = Math.min(0xffff, data.length - pos);
    out[off] = b === blocks - 1 ? 1 : 0; // BFINAL, BTYPE=00
    out.writeUInt16LE(len, off + 1);
    out.writeUInt16LE(~len & 0xffff, off + 3);
    out.set(data.subarray(pos, pos + len), off + 5);
    off += 5 + len;
    pos += len;
  }
  out.writeUInt32BE(adler32(data), off);
  return out;
}

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length; ) {
    const end = Math.min(data.length, i + 5552); // zlib's NMAX: the sums stay exact in between
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * Read an object's content (without the header) and check its type: a loose
 * object directly, anything else (packed, after a git gc) through
 * isomorphic-git.
 */
export async function readObject(ctx: GitCtx, oid: string, type: ObjectType): Promise<Buffer> {
  let raw: Buffer | undefined;
  try {
    raw = inflateSync(fs.readFileSync(looseObjectPath(ctx.gitdir, oid)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (raw === undefined) {
    const o = await git.readObject({ ...gitArgs(ctx), oid, format: 'content' });
    if (o.type !== type) throw new Error(`object ${oid} is a ${o.type}, not a ${type}`);
    return Buffer.from(o.object as Uint8Array);
  }
  const nul = raw.indexOf(0);
  const header = raw.toString('latin1', 0, nul);
  const [t, len] = header.split(' ');
  if (t !== type) throw new Error(`object ${oid} is a ${t}, not a ${type}`);
  if (Number(len) !== raw.length - nul - 1) throw new Error(`object ${oid} is corrupt (header says ${len} bytes, has ${raw.length - nul - 1})`);
  return raw.subarray(nul + 1);
}

/** The tree id named by a commit object. */
export async function commitTree(ctx: GitCtx, oid: string): Promise<string> {
  const content = await readObject(ctx, oid, 'commit');
  const m = /^tree ([0-9a-f]{40})\n/.exec(content.toString('latin1', 0, 46));
  if (!m) throw new Error(`commit ${oid} does not start with a tree`);
  return m[1]!;
}

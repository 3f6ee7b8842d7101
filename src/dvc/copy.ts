import { crashPoint } from '../faults.js';
import { createHash } from 'node:crypto';
import { promises as fsp, type BigIntStats } from 'node:fs';
import { readChunks, type FileDigest } from './hash.js';

/** The source file changed while it was being copied; the caller should try again later. */
export class SourceChangedError extends Error {
  readonly file: string;
  constructor(file: string, detail: string) {
    super(`${file} changed while it was being copied into the DVC cache (${detail}); it will be retried once it is stable`);
    this.name = 'SourceChangedError';
    this.file = file;
  }
}

/** Opens the temp file; replaceable so tests can inject ENOSPC/EACCES (root cannot provoke EACCES for real). */
export type OpenTemp = (file: string) => Promise<fsp.FileHandle>;

export const defaultOpenTemp: OpenTemp = (file) => fsp.open(file, 'wx', 0o644);

/**
 * Copy `src` into the new file `tmp` while hashing the bytes written, in one
 * pass. Writing chunk n, hashing chunk n and reading chunk n+1 overlap.
 * The temp file is fsynced and made 0444 before it is closed, so whatever is
 * later renamed to a final name is complete and read-only.
 * Throws SourceChangedError if size, mtime or inode moved during the copy
 * (B13: a file still being written must not be recorded).
 * On any error the temp file may remain: the caller removes it.
 */
export async function copyAndHash(src: string, tmp: string, openTemp: OpenTemp): Promise<FileDigest> {
  const md5 = createHash('md5');
  const sha1 = createHash('sha1');
  const input = await fsp.open(src, 'r');
  let out: fsp.FileHandle | undefined;
  try {
    const before = await input.stat({ bigint: true });
    if (!before.isFile()) throw new Error(`${src} is not a regular file`);
    out = await openTemp(tmp);
    let size = 0;
    for await (const chunk of readChunks(input, Number(before.size))) {
      const writing = writeAll(out, chunk, size);
      md5.update(chunk);
      sha1.update(chunk);
      await writing;
      size += chunk.length;
      crashPoint('cache.copy');
    }
    const after = await fsp.stat(src, { bigint: true });
    const changed = describeChange(before, after, size);
    if (changed) throw new SourceChangedError(src, changed);
    await out.sync();
    await out.chmod(0o444);
    return { md5: md5.digest('hex'), sha1: sha1.digest('hex'), size };
  } finally {
    await out?.close().catch(() => undefined);
    await input.close().catch(() => undefined);
  }
}

async function writeAll(fh: fsp.FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, position + off);
    off += bytesWritten;
  }
}

function describeChange(before: BigIntStats, after: BigIntStats, copied: number): string | undefined {
  if (after.ino !== before.ino || after.dev !== before.dev) return 'it was replaced by another file';
  if (after.size !== before.size) return `size went from ${before.size} to ${after.size} bytes`;
  if (BigInt(copied) !== before.size) return `read ${copied} of ${before.size} bytes`;
  if (after.mtimeNs !== before.mtimeNs) return 'its modification time changed';
  return undefined;
}

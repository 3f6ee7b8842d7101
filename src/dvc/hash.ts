import { createHash, type Hash } from 'node:crypto';
import { promises as fsp } from 'node:fs';

/** DVC reads in 1 MiB chunks; the size only matters for speed and memory here. */
export const CHUNK_SIZE = 1 << 20;

export interface FileDigest {
  md5: string;
  sha1: string;
  size: number;
}

/**
 * Read an open file from offset 0 to EOF in CHUNK_SIZE pieces, keeping one
 * read in flight while the caller works on the previous chunk (double
 * buffering), so disk reads overlap hashing. Memory stays at two buffers
 * whatever the file size (no readFile: it fails at 2 GiB, field fault B06).
 *
 * A yielded chunk is valid only until the consumer asks for the next one.
 */
export async function* readChunks(fh: fsp.FileHandle, sizeHint?: number): AsyncGenerator<Buffer, number> {
  // Small files (most results) need no 1 MiB buffers: allocating them per
  // file made the garbage collector the top cost when recording bursts.
  const len = sizeHint === undefined ? CHUNK_SIZE : Math.min(CHUNK_SIZE, Math.max(4096, sizeHint + 1));
  const bufs = [Buffer.allocUnsafe(len), Buffer.allocUnsafe(len)];
  let which = 0;
  let pos = 0;
  let pending = fh.read(bufs[0]!, 0, len, 0);
  try {
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) return pos;
      const cur = bufs[which]!;
      pos += bytesRead;
      which ^= 1;
      pending = fh.read(bufs[which]!, 0, len, pos);
      yield cur.subarray(0, bytesRead);
    }
  } finally {
    // An early exit must not leave a read running against a handle the caller is about to close.
    await pending.catch(() => undefined);
  }
}

/** md5 + sha1 of a file in one streaming pass (sha1 is the key Waggle uploads use). */
export async function hashFile(file: string): Promise<FileDigest> {
  const md5 = createHash('md5');
  const sha1 = createHash('sha1');
  const size = await digestInto(file, [md5, sha1]);
  return { md5: md5.digest('hex'), sha1: sha1.digest('hex'), size };
}

/** md5 only (used to verify cache objects, whose name is their md5). */
export async function md5File(file: string): Promise<{ md5: string; size: number }> {
  const md5 = createHash('md5');
  const size = await digestInto(file, [md5]);
  return { md5: md5.digest('hex'), size };
}

async function digestInto(file: string, hashes: Hash[]): Promise<number> {
  const fh = await fsp.open(file, 'r');
  try {
    let size = 0;
    for await (const chunk of readChunks(fh)) {
      for (const h of hashes) h.update(chunk);
      size += chunk.length;
    }
    return size;
  } finally {
    await fh.close();
  }
}

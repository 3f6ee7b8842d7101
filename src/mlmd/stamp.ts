import { promises as fsp } from 'node:fs';

/**
 * Identity of a file's content as the file system reports it. A change means
 * another process wrote the file (field fault B09). ctime is left out because
 * our own rename() changes it.
 */
export interface FileStamp {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
}

/** The stamp, or null if the file does not exist. */
export async function fileStamp(file: string): Promise<FileStamp | null> {
  try {
    const s = await fsp.stat(file, { bigint: true });
    return { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export function sameStamp(a: FileStamp | null, b: FileStamp | null): boolean {
  if (a === null || b === null) return a === b;
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs;
}

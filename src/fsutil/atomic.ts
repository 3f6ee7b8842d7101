import { crashPoint } from '../faults.js';
import { promises as fsp, constants as fsc } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** A temp name in the same directory, so rename() stays on one file system. */
export function tempPathFor(target: string): string {
  // Keep within NAME_MAX (255 bytes) however long the target's name is.
  let base = path.basename(target);
  while (Buffer.byteLength(base) > 200) base = base.slice(0, -1);
  return path.join(path.dirname(target), `.${base}.${randomBytes(6).toString('hex')}.tmp`);
}

/** fsync a directory so that a rename or create inside it survives power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
    await fh.sync();
  } catch (err) {
    // Some file systems refuse fsync on directories (EINVAL); nothing more can be done there.
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
  } finally {
    await fh?.close();
  }
}

export interface AtomicWriteOptions {
  /** fsync the file before rename and the directory after (default true). */
  fsync?: boolean;
  /** File mode of the result (default 0o644 minus umask). */
  mode?: number;
  /** Names a crash point (`write.<label>`) between the temp write and the rename. */
  label?: string;
}

/**
 * Replace `target` with `data` so that a reader or a crash sees either the old
 * or the new content, never a mix: write a temp file beside it, fsync, rename
 * over the target, fsync the directory.
 */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const sync = opts.fsync ?? true;
  const tmp = tempPathFor(target);
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(tmp, 'wx', opts.mode ?? 0o644);
    await fh.writeFile(data);
    if (sync) await fh.sync();
    await fh.close();
    fh = undefined;
    if (opts.label) crashPoint(`write.${opts.label}`);
    await fsp.rename(tmp, target);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  if (sync) await fsyncDir(path.dirname(target));
}

/** Remove temp files a crash left behind (names made by tempPathFor). */
export async function removeStaleTemps(dir: string): Promise<number> {
  let removed = 0;
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (name.startsWith('.') && name.endsWith('.tmp')) {
      await fsp.rm(path.join(dir, name), { force: true });
      removed++;
    }
  }
  return removed;
}

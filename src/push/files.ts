import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fsyncDir, tempPathFor } from '../fsutil/atomic.js';
import { inside, realTarget } from '../fsutil/paths.js';
import { UserError } from '../errors.js';

/** fsync a file by name (after a copy whose handle is gone). */
export async function fsyncFile(file: string): Promise<void> {
  const fh = await fsp.open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Copy and fsync `src` to `dest` (which must not exist). The kernel copies; memory stays flat. */
export async function copyDurably(src: string, dest: string): Promise<void> {
  await fsp.copyFile(src, dest, fs.constants.COPYFILE_EXCL);
  await fsyncFile(dest);
}

/**
 * Put a copy of `src` at `dest` atomically: copy to a temp name beside it,
 * fsync, rename, fsync the directory. A reader sees no file or the whole file.
 */
export async function copyAtomic(src: string, dest: string, mode = 0o644): Promise<void> {
  const tmp = tempPathFor(dest);
  try {
    await copyDurably(src, tmp);
    await fsp.chmod(tmp, mode);
    await fsp.rename(tmp, dest);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDir(path.dirname(dest));
}

export async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

/**
 * Does `file` contain `line` as a whole line? Read in chunks with an overlap
 * of one line, so memory stays bounded for a large data.ndjson.
 */
export async function fileHasLine(file: string, line: string): Promise<boolean> {
  const needle = Buffer.from(`\n${line}\n`, 'utf8');
  const fh = await fsp.open(file, 'r').catch(() => undefined);
  if (!fh) return false;
  try {
    const chunk = Buffer.alloc(Math.max(1 << 20, needle.length * 2));
    // Pretend a newline before the first byte so the first line matches too.
    let carry = Buffer.from('\n');
    let pos = 0;
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, pos);
      if (bytesRead === 0) return false;
      pos += bytesRead;
      const hay = Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
      if (hay.includes(needle)) return true;
      carry = hay.subarray(Math.max(0, hay.length - needle.length + 1));
    }
  } finally {
    await fh.close();
  }
}

/**
 * A delivery folder must be one: not a file, and not inside the workspace,
 * where an archive would land in its git work tree (or among its segments).
 */
export async function refuseFolder(target: string, dir: string, root: string): Promise<void> {
  const st = await fsp.stat(dir).catch(() => undefined);
  if (st && !st.isDirectory()) throw new UserError(`--to ${target}: ${dir} is a file, not a folder; give a folder`, 2);
  if (inside(await realTarget(root), await realTarget(dir)) !== undefined) {
    throw new UserError(`--to ${target} is inside the workspace ${root}, where archives would land among its own files; choose a folder outside it`, 2);
  }
}

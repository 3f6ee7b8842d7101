import { promises as fsp } from 'node:fs';
import path from 'node:path';

/**
 * mkdir -p, then chmod each directory it created to `mode` explicitly, so a
 * strict umask (077) cannot leave a cache others cannot traverse.
 * Returns the directories created, outermost first (their parents need an
 * fsync for the creation to be durable).
 */
export async function makeDirs(dir: string, mode = 0o755): Promise<string[]> {
  const created: string[] = [];
  const missing: string[] = [];
  let cur = path.resolve(dir);
  // Walk up to the first existing ancestor, then create downwards.
  for (;;) {
    try {
      const st = await fsp.stat(cur);
      if (!st.isDirectory()) {
        throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${cur}'`), { code: 'ENOTDIR', path: cur });
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      missing.push(cur);
      const parent = path.dirname(cur);
      if (parent === cur) break;
      cur = parent;
    }
  }
  for (const d of missing.reverse()) {
    try {
      await fsp.mkdir(d, mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // a concurrent writer made it
      throw err;
    }
    await fsp.chmod(d, mode);
    created.push(d);
  }
  return created;
}

import { promises as fsp } from 'node:fs';
import path from 'node:path';

/** Where a write to `p` lands: through symbolic links, a dangling one included (its target would be created). */
export async function realTarget(p: string): Promise<string> {
  const abs = path.resolve(p);
  const real = await fsp.realpath(abs).catch(() => undefined);
  if (real) return real;
  const link = await fsp.readlink(abs).catch(() => undefined);
  return link === undefined ? abs : realTarget(path.resolve(path.dirname(abs), link));
}

/** `p` relative to `root` when it lies inside it (`''` for `root` itself), else undefined. Both are resolved, not followed. */
export function inside(root: string, p: string): string | undefined {
  const rel = path.relative(path.resolve(root), path.resolve(p));
  if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return undefined;
  return rel;
}

import { promises as fsp } from 'node:fs';
import path from 'node:path';

/** Where delivered segments keep their mlmd files: `<workspace>/.cmf-sage/segments/<segment-id>/mlmd`. */
export function segmentsDir(root: string): string {
  return path.join(path.resolve(root), '.cmf-sage', 'segments');
}

/**
 * The mlmd files of the segments a workspace has kept after delivering them,
 * sorted by segment id (so by age, as ids sort by time). Readers query them
 * beside the live mlmd: a delivered segment's lineage may no longer be in it.
 * [] when the workspace keeps none.
 */
export async function segmentMlmdFiles(root: string): Promise<string[]> {
  const dir = segmentsDir(root);
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
  const files: string[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue; // a segment being written under a temporary name
    const file = path.join(dir, name, 'mlmd');
    const isFile = await fsp.stat(file).then((s) => s.isFile(), () => false);
    if (isFile) files.push(file);
  }
  return files;
}

import { promises as fsp } from 'node:fs';
import path from 'node:path';

/** Where delivered segments keep their mlmd files: `<workspace>/.cmf-sage/segments/<segment-id>/mlmd`. */
export function segmentsDir(root: string): string {
  return path.join(path.resolve(root), '.cmf-sage', 'segments');
}

const SEGMENT_NAME = /^\d{6,}$/;

/** Numeric order, so 1000000 sorts after 999999. */
function bySequence(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * Names of the sealed segment folders, oldest first. A folder being sealed
 * has a dot-name until it is complete, so it is never listed.
 */
export async function segmentNames(root: string): Promise<string[]> {
  try {
    return (await fsp.readdir(segmentsDir(root))).filter((n) => SEGMENT_NAME.test(n)).sort(bySequence);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}

/**
 * The mlmd files of the segments a workspace keeps (sealed, delivered or
 * not), oldest first. Readers query them beside the live mlmd: a sealed
 * segment's lineage is no longer in it. [] when the workspace keeps none.
 * A sealed folder always holds its mlmd (it is written whole under a
 * dot-name, and pruning renames the whole folder away first), so one
 * without it is listed too: opening it names what is missing, rather than
 * the answer quietly leaving that segment's results out.
 */
export async function segmentMlmdFiles(root: string): Promise<string[]> {
  return (await segmentNames(root)).map((name) => path.join(segmentsDir(root), name, 'mlmd'));
}

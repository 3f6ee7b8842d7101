import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { segmentNames, segmentsDir } from '../workspace/segments.js';
import type { SegmentManifest, SegmentPointer } from '../recorder/segment.js';

/**
 * Sealed segments as `push` reads them. The recorder writes each one
 * atomically (built under a dot-name, renamed into place) and never changes it
 * afterwards; push only adds `delivery.json`. This module reads the contract
 * fields it needs and ignores any others, so the recorder may add fields.
 */

// The manifest is the recorder's contract; one definition, in recorder/segment.ts.
export type { SegmentManifest, SegmentPointer } from '../recorder/segment.js';

export interface Segment {
  id: string;
  dir: string;
  manifest: SegmentManifest;
}

/** Sealed segments, oldest first (ids are zero-padded sequence numbers). */
export async function listSealedSegments(root: string): Promise<Segment[]> {
  const out: Segment[] = [];
  for (const name of await segmentNames(root)) {
    const dir = path.join(segmentsDir(root), name);
    let text: string;
    try {
      text = await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8');
    } catch (err) {
      // Sealing renames a complete folder into place and pruning moves it away whole, so a
      // numbered folder without a manifest is damage: skipping it would lose its lineage quietly.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new UserError(
          `segment folder ${dir} has no manifest.json, so its lineage cannot be pushed; restore the folder from a backup, or move it out of ${segmentsDir(root)}`,
          70,
        );
      }
      throw err;
    }
    out.push({ id: name, dir, manifest: parseManifest(text, dir) });
  }
  return out;
}

function parseManifest(text: string, dir: string): SegmentManifest {
  const where = path.join(dir, 'manifest.json');
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new UserError(`segment manifest ${where} is not valid JSON (${(err as Error).message}); the segment cannot be pushed`, 70);
  }
  const bad = (field: string) => new UserError(`segment manifest ${where} has no valid "${field}"; the segment cannot be pushed`, 70);
  const str = (k: string) => {
    if (typeof m[k] !== 'string' || m[k] === '') throw bad(k);
    return m[k] as string;
  };
  const strList = (k: string) => {
    const v = m[k];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(k);
    return v as string[];
  };
  const counts = m.counts as Record<string, unknown> | undefined;
  if (!counts || typeof counts !== 'object') throw bad('counts');
  for (const k of ['executions', 'Dataset', 'Model', 'Metrics']) if (!Number.isSafeInteger(counts[k])) throw bad(`counts.${k}`);
  const pointers = m.pointers;
  if (!Array.isArray(pointers)) throw bad('pointers');
  for (const p of pointers as Record<string, unknown>[]) {
    if (typeof p?.path !== 'string' || !p.path.endsWith('.dvc') || p.path.startsWith('/') || p.path.split('/').includes('..')) throw bad('pointers[].path');
    if (typeof p.md5 !== 'string' || !/^[0-9a-f]{32}$/.test(p.md5)) throw bad('pointers[].md5');
    if (!Number.isSafeInteger(p.size) || (p.size as number) < 0) throw bad('pointers[].size');
  }
  const objects = strList('objects');
  if (objects.some((o) => !/^[0-9a-f]{32}$/.test(o))) throw bad('objects');
  const gitEndCommits = strList('gitEndCommits');
  if (gitEndCommits.some((c) => !/^[0-9a-f]{40}$/.test(c))) throw bad('gitEndCommits');
  const sealedAt = str('sealedAt');
  if (Number.isNaN(Date.parse(sealedAt))) throw bad('sealedAt');
  const mlmdName = str('mlmdName');
  if (!/^[A-Za-z0-9._-]+$/.test(mlmdName)) throw bad('mlmdName');
  return {
    segment: str('segment'),
    pipeline: str('pipeline'),
    stage: str('stage'),
    mlmdName,
    sealedAt,
    executions: strList('executions'),
    counts: counts as SegmentManifest['counts'],
    gitEndCommits,
    pointers: pointers as SegmentPointer[],
    objects,
  };
}

/** The segment's mlmd file (always named `mlmd` inside the segment folder). */
export function segmentMlmd(seg: Segment): string {
  return path.join(seg.dir, 'mlmd');
}

import { promises as fsp } from 'node:fs';
import { writeFileAtomic } from '../fsutil/atomic.js';
import type { TailCursor } from '../sources/line-tail.js';
import type { SeenFiles } from '../sources/folder.js';

/**
 * Source read positions, saved with each checkpoint. They only make restarts
 * cheap: every observation is also checked against the MLMD before it is
 * recorded, so a lost or stale state file cannot cause double records.
 */
export interface SourceState {
  version: 1;
  cursor?: TailCursor;
  seen: SeenFiles;
}

export async function loadState(file: string): Promise<SourceState> {
  try {
    const s = JSON.parse(await fsp.readFile(file, 'utf8')) as SourceState;
    if (s && s.version === 1) return { version: 1, cursor: s.cursor, seen: s.seen ?? {} };
  } catch {
    // missing or unreadable: start from the beginning (dedupe keeps it correct)
  }
  return { version: 1, seen: {} };
}

export async function saveState(file: string, state: SourceState): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(state), { label: 'state' });
}

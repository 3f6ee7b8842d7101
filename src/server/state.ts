import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { MetadataStatus } from './metadata.js';

/**
 * `<segment>/cmf-server.json`: which cmf-server delivery steps are confirmed,
 * and where each went. Kept apart from the delivery code so `status` can read
 * it without loading the HTTP and git clients.
 */
export const STATE_FILE = 'cmf-server.json';

export interface CmfServerState {
  segment: string;
  steps: {
    artifacts?: { to: string; at: string; sent: number; skipped: number; bytes: number };
    git?: { to: string; at: string; branch: string; head: string; pushed: boolean; unreachable?: string[] };
    metadata?: { to: string; at: string; status: MetadataStatus; executions: number };
  };
}

export function stateFile(segmentDir: string): string {
  return path.join(segmentDir, STATE_FILE);
}

export async function readCmfServerState(segmentDir: string): Promise<CmfServerState | undefined> {
  try {
    const s = JSON.parse(await fsp.readFile(stateFile(segmentDir), 'utf8')) as CmfServerState;
    return s && typeof s.steps === 'object' ? s : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (err instanceof SyntaxError) return undefined; // cannot happen with atomic writes; start over
    throw err;
  }
}


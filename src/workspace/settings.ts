import { promises as fsp } from 'node:fs';
import { writeFileAtomic } from '../fsutil/atomic.js';

/** What `watch` was started with, so `status` and `push` need no flags. */
export interface WorkspaceSettings {
  pipeline: string;
  stage: string;
  mlmd: string;
  executionType: string;
}

export async function readSettings(file: string): Promise<WorkspaceSettings | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as WorkspaceSettings;
  } catch {
    return undefined;
  }
}

export async function writeSettings(file: string, s: WorkspaceSettings): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(s, null, 2) + '\n');
}

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../fsutil/atomic.js';
import { describeFsError, UserError } from '../errors.js';

/** What `watch` was started with, so `status` and `push` need no flags. */
export interface WorkspaceSettings {
  pipeline: string;
  stage: string;
  mlmd: string;
  executionType: string;
}

/**
 * The settings, or undefined for a workspace that has none yet. A file that
 * is there but unreadable is refused: taken as absent, the next `watch` would
 * bind the workspace to whatever pipeline it was given.
 */
export async function readSettings(file: string): Promise<WorkspaceSettings | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') throw await notAFolder(file);
    throw describeFsError(err, `reading ${file}`);
  }
  let s: unknown;
  try {
    s = JSON.parse(text);
  } catch {
    s = undefined;
  }
  const ok = (k: string) => typeof (s as Record<string, unknown> | null)?.[k] === 'string' && (s as Record<string, string>)[k] !== '';
  if (!ok('pipeline') || !ok('stage') || !ok('mlmd')) {
    throw new UserError(
      `${file} is damaged (it names the workspace's pipeline, stage and mlmd file); restore it from a backup, or write it again as {"pipeline": "...", "stage": "...", "mlmd": "mlmd", "executionType": "..."} with the values watch was started with`,
      2,
    );
  }
  return s as WorkspaceSettings;
}

export async function writeSettings(file: string, s: WorkspaceSettings): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(s, null, 2) + '\n');
}

/** A file where the workspace (or its `.cmf-sage` folder) should be: a mistyped --workspace, not a disk fault. */
async function notAFolder(settingsFile: string): Promise<UserError> {
  const state = path.dirname(settingsFile);
  const root = path.dirname(state);
  const rootIsFolder = await fsp.stat(root).then((st) => st.isDirectory(), () => false);
  return rootIsFolder
    ? new UserError(`${state} is a file, so ${root} is not a cmf-sage workspace; pass the workspace folder with --workspace`, 2)
    : new UserError(`workspace ${root} is not a folder; pass the workspace folder with --workspace`, 2);
}

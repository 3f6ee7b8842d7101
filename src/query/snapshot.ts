import { promises as fsp } from 'node:fs';
import { loadMlmd, MlmdStore } from '../mlmd/index.js';
import { UserError } from '../errors.js';
import { Journal } from '../recorder/journal.js';
import { Applier } from '../recorder/apply.js';
import { WorkspaceLayout } from '../workspace/layout.js';
import { readSettings, type WorkspaceSettings } from '../workspace/settings.js';

export interface Snapshot {
  ws: WorkspaceLayout;
  settings: WorkspaceSettings | undefined;
  store: MlmdStore;
  /** Journal entries not yet in the saved mlmd (watch is running or crashed). */
  journaled: number;
}

/**
 * A read-only view of a workspace: the last saved mlmd plus whatever the
 * journal holds beyond it, applied in memory. Never writes and never waits
 * for `watch`: the mlmd is replaced atomically and a torn journal tail is
 * ignored.
 */
export async function openSnapshot(workspace: string, mlmdFlag?: string): Promise<Snapshot> {
  const probe = new WorkspaceLayout(workspace);
  const settings = await readSettings(probe.settingsFile);
  const ws = new WorkspaceLayout(workspace, mlmdFlag ?? settings?.mlmd ?? 'mlmd');
  const exists = await fsp.stat(ws.mlmdFile).then((s) => s.isFile(), () => false);
  if (!exists) {
    throw new UserError(`no mlmd file at ${ws.mlmdFile}; run "cmf-sage watch" first or pass --workspace/--mlmd`);
  }
  const { db } = await loadMlmd(ws.mlmdFile);
  const store = new MlmdStore(db);
  const { entries } = await Journal.read(ws.journalFile);
  if (entries.length > 0) new Applier(store).apply(entries);
  return { ws, settings, store, journaled: entries.length };
}

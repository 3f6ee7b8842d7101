import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Database } from 'sql.js';
import { loadMlmd, MlmdStore } from '../mlmd/index.js';
import { UserError } from '../errors.js';
import { Journal } from '../recorder/journal.js';
import { Applier } from '../recorder/apply.js';
import { listSegmentSummaries, type SegmentSummary } from '../recorder/segment.js';
import { WorkspaceLayout } from '../workspace/layout.js';
import { segmentNames } from '../workspace/segments.js';
import { readSettings, type WorkspaceSettings } from '../workspace/settings.js';

export interface Snapshot {
  ws: WorkspaceLayout;
  /** Sealed segments (closed executions moved out of the live mlmd), oldest first. */
  segments: SegmentSummary[];
  /** Numbered segment folders with neither a readable summary nor manifest: counted nowhere, pushed nowhere. */
  unreadableSegments: string[];
  settings: WorkspaceSettings | undefined;
  store: MlmdStore;
  /** Journal entries not yet in the saved mlmd (watch is running or crashed). */
  journaled: number;
}

export interface SnapshotOptions {
  /**
   * How to read the mlmd file; default loadMlmd (integrity-checked, built-in
   * types upserted). The query commands pass a lighter read-only loader.
   */
  load?: (file: string) => Promise<Database>;
}

/**
 * A read-only view of a workspace: the last saved mlmd plus whatever the
 * journal holds beyond it, applied in memory. Never writes and never waits
 * for `watch`: the mlmd is replaced atomically and a torn journal tail is
 * ignored.
 */
export async function openSnapshot(workspace: string, mlmdFlag?: string, opts: SnapshotOptions = {}): Promise<Snapshot> {
  const probe = new WorkspaceLayout(workspace);
  const settings = await readSettings(probe.settingsFile);
  const ws = new WorkspaceLayout(workspace, mlmdFlag ?? settings?.mlmd ?? 'mlmd');
  const exists = await fsp.stat(ws.mlmdFile).then((s) => s.isFile(), () => false);
  if (!exists) {
    throw new UserError(`no mlmd file at ${ws.mlmdFile}; run "cmf-sage watch" first or pass --workspace/--mlmd`);
  }
  const db = opts.load ? await opts.load(ws.mlmdFile) : (await loadMlmd(ws.mlmdFile)).db;
  const store = new MlmdStore(db);
  const { entries } = await Journal.read(ws.journalFile);
  if (entries.length > 0) new Applier(store).apply(entries);
  const segments = await listSegmentSummaries(ws.root);
  const readable = new Set(segments.map((x) => path.basename(x.dir)));
  const unreadableSegments = (await segmentNames(ws.root)).filter((n) => !readable.has(n));
  return { ws, settings, store, journaled: entries.length, segments, unreadableSegments };
}

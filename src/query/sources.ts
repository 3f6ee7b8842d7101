import path from 'node:path';
import { segmentMlmdFiles } from '../workspace/segments.js';
import { mapPool } from '../util/pool.js';
import type { SegmentSummary } from '../recorder/segment.js';
import type { LineageFile } from './reader.js';
import { readMlmdForQuery, type ReadOptions } from './mlmd-file.js';
import { openSnapshot } from './snapshot.js';

export interface SourceOptions {
  /** Workspace folder (already resolved); ignored when `file` is given. */
  workspace: string;
  /** mlmd file name inside the workspace (default: the one watch used). */
  mlmd?: string;
  /** Any MLMD file (a cmflib-made one, no workspace needed). */
  file?: string;
  /** Read the kept segments too (default true). */
  segments?: boolean;
}

export interface OpenedSources {
  files: LineageFile[];
  /** What was read, for messages. */
  describe: string;
  /** The workspace folder, when a workspace was read. */
  root?: string;
  /**
   * Only some kept segments were read (results --model): which version is
   * the latest or the previous one is then known only for the one asked for.
   */
  partial?: boolean;
  /** The kept segments' summaries, as the workspace snapshot read them. */
  summaries?: SegmentSummary[];
  close(): void;
}

/**
 * The MLMD files a query reads: `--file`, or the workspace's live mlmd (with
 * the journal applied in memory, as `status` reads it) plus every kept
 * segment. All read-only: nothing here writes or waits for `watch`.
 */
export async function openSources(o: SourceOptions): Promise<OpenedSources> {
  const files: LineageFile[] = [];
  let root: string | undefined;
  let summaries: SegmentSummary[] | undefined;
  if (o.file !== undefined) {
    files.push(await openMlmdFile(path.resolve(o.file), 'file'));
  } else {
    const snap = await openSnapshot(o.workspace, o.mlmd, { load: readMlmdForQuery });
    files.push({ label: snap.ws.mlmdName, path: snap.ws.mlmdFile, db: snap.store.db });
    root = snap.ws.root;
    summaries = snap.segments;
    if (o.segments !== false) files.push(...(await openSegmentFiles((await segmentMlmdFiles(snap.ws.root)).map((f) => path.dirname(f)))));
  }
  return {
    files,
    root,
    summaries,
    describe: files.map((f) => f.path).join(', '),
    close: () => {
      for (const f of files) f.db.close();
    },
  };
}

/**
 * Kept segments' mlmd files, in the given order. A few are read at once so
 * that reading one file overlaps loading another into sql.js; on a failure
 * the ones already open are closed.
 */
export async function openSegmentFiles(segmentDirs: readonly string[]): Promise<LineageFile[]> {
  const opened: LineageFile[] = [];
  try {
    return await mapPool(segmentDirs, 4, async (dir) => {
      const f = await openSegmentFile(dir);
      opened.push(f);
      return f;
    });
  } catch (err) {
    for (const f of opened) f.db.close();
    throw err;
  }
}

/** A kept segment's mlmd, labelled as the queries name it. */
export async function openSegmentFile(segmentDir: string, o: ReadOptions = {}): Promise<LineageFile> {
  return openMlmdFile(path.join(segmentDir, 'mlmd'), `segment ${path.basename(segmentDir)}`, { sealed: true, ...o });
}

/** An existing MLMD file; anything else is refused with one line (exit 2). */
async function openMlmdFile(file: string, label: string, o: ReadOptions = {}): Promise<LineageFile> {
  return { label, path: file, db: await readMlmdForQuery(file, o) };
}

import path from 'node:path';
import { segmentMlmdFiles } from '../workspace/segments.js';
import type { LineageFile } from './reader.js';
import { readMlmdForQuery } from './mlmd-file.js';
import { openSnapshot } from './snapshot.js';

export interface SourceOptions {
  /** Workspace folder (already resolved); ignored when `file` is given. */
  workspace: string;
  /** mlmd file name inside the workspace (default: the one watch used). */
  mlmd?: string;
  /** Any MLMD file (a cmflib-made one, no workspace needed). */
  file?: string;
}

export interface OpenedSources {
  files: LineageFile[];
  /** What was read, for messages. */
  describe: string;
  close(): void;
}

/**
 * The MLMD files a query reads: `--file`, or the workspace's live mlmd (with
 * the journal applied in memory, as `status` reads it) plus every kept
 * segment. All read-only: nothing here writes or waits for `watch`.
 */
export async function openSources(o: SourceOptions): Promise<OpenedSources> {
  const files: LineageFile[] = [];
  if (o.file !== undefined) {
    files.push(await openMlmdFile(path.resolve(o.file), 'file'));
  } else {
    const snap = await openSnapshot(o.workspace, o.mlmd, { load: readMlmdForQuery });
    files.push({ label: snap.ws.mlmdName, path: snap.ws.mlmdFile, db: snap.store.db });
    for (const seg of await segmentMlmdFiles(snap.ws.root)) {
      files.push(await openMlmdFile(seg, `segment ${path.basename(path.dirname(seg))}`));
    }
  }
  return {
    files,
    describe: files.map((f) => f.path).join(', '),
    close: () => {
      for (const f of files) f.db.close();
    },
  };
}

/** An existing MLMD file; anything else is refused with one line (exit 2). */
async function openMlmdFile(file: string, label: string): Promise<LineageFile> {
  return { label, path: file, db: await readMlmdForQuery(file) };
}

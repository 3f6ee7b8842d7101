import { loadExecutions, mergeExecutions, type ExecutionFact } from './executions.js';
import { damagedFileError, ReadBuffer } from './mlmd-file.js';
import type { ResultsPlan } from './model-sources.js';
import { modelArtifactsOf, versionsOf, type ModelArtifact, type ModelVersion } from './models.js';
import { MlmdReader, type LineageFile } from './reader.js';
import { ResultCollector, type ResultFilter, type RowStore } from './results.js';
import { openSegmentFile } from './sources.js';

export interface StreamedResults<Out> {
  /** The rows as the store keeps them, oldest first. */
  items: Out;
  /** Every version the files name, counted over all their executions (as modelVersions on the whole view). */
  versions: ModelVersion[];
  /** The files read, in order. */
  sources: string[];
}

/** Segments read ahead of the one being queried. */
const AHEAD = 2;

/**
 * `results` over a plan, one file at a time: a kept segment is opened when
 * its turn comes, its executions, model artifacts and rows are taken, and it
 * is closed before the ones after it are read (the next AHEAD are read
 * meanwhile, into buffers used in turn). Memory stays at a few segments plus
 * the answer instead of every segment at once (100 segments of a
 * 100,000-result workspace are ~300 MB), and the reads no longer churn fresh
 * buffers. The answer is the same as queryResults on the whole view.
 */

export async function streamResults<Out>(plan: ResultsPlan, filter: ResultFilter, store: RowStore<Out>): Promise<StreamedResults<Out>> {
  const rows = new ResultCollector(filter, plan.shared, store);
  const perFile: ExecutionFact[][] = [];
  const artifacts: ModelArtifact[] = [];
  const sources: string[] = [];
  // Buffers in turn: the next segments are read while this one is queried (each read takes a few
  // round trips through the thread pool; reading only one ahead left the query waiting on them now and then).
  const buffers = Array.from({ length: AHEAD + 1 }, () => new ReadBuffer());
  const later = plan.files.map((e, i) => ('later' in e ? i : -1)).filter((i) => i >= 0);
  const prefetch = (k: number): Promise<LineageFile> | undefined => {
    const i = later[k];
    if (i === undefined) return undefined;
    const p = openSegmentFile((plan.files[i] as { later: string }).later, { reuse: buffers[k % buffers.length] });
    p.catch(() => undefined); // reported where it is awaited
    return p;
  };
  const pending: (Promise<LineageFile> | undefined)[] = [];
  for (let k = 0; k < AHEAD; k++) pending.push(prefetch(k));
  let k = 0;
  try {
    for (const entry of plan.files) {
      let file: LineageFile;
      if ('open' in entry) file = entry.open;
      else {
        file = await pending.shift()!;
        pending.push(prefetch(k++ + AHEAD)); // into the buffer of a file already closed
      }
      const r = new MlmdReader(file);
      try {
        const facts = loadExecutions(r);
        perFile.push(facts);
        artifacts.push(...modelArtifactsOf(r));
        rows.add(r, facts);
      } catch (err) {
        throw damagedFileError(err, file.path) ?? err;
      } finally {
        r.close();
        if ('later' in entry) file.db.close(); // its buffer is free for a later one
      }
      sources.push(file.path);
    }
  } finally {
    for (const p of pending) if (p) await p.then((f) => f.db.close(), () => undefined);
  }
  return { items: rows.finish(), versions: versionsOf(artifacts, mergeExecutions(perFile)), sources };
}

import { loadExecutions, mergeExecutions, type ExecutionFact } from './executions.js';
import { damagedFileError, ReadBuffer } from './mlmd-file.js';
import type { ResultsPlan } from './model-sources.js';
import { modelArtifactsOf, versionsOf, type ModelArtifact, type ModelVersion } from './models.js';
import { MlmdReader, type LineageFile } from './reader.js';
import { ResultCollector, type ResultFilter, type ResultRow } from './results.js';
import { openSegmentFile } from './sources.js';

export interface StreamedResults<T> {
  /** The rows as `map` made them, oldest first. */
  items: T[];
  /** Every version the files name, counted over all their executions (as modelVersions on the whole view). */
  versions: ModelVersion[];
  /** The files read, in order. */
  sources: string[];
}

/**
 * `results` over a plan, one file at a time: a kept segment is opened when
 * its turn comes, its executions, model artifacts and rows are taken, and it
 * is closed before the one after it is read (the next is read meanwhile,
 * into the other of two buffers used in turn). Memory stays at
 * one segment plus the answer instead of every segment at once (100
 * segments of a 100,000-result workspace are ~300 MB), and the reads no
 * longer churn fresh buffers. The answer is the same as queryResults on the
 * whole view.
 */
export async function streamResults<T>(plan: ResultsPlan, filter: ResultFilter, map: (row: ResultRow) => T): Promise<StreamedResults<T>> {
  const rows = new ResultCollector(filter, plan.shared, map);
  const perFile: ExecutionFact[][] = [];
  const artifacts: ModelArtifact[] = [];
  const sources: string[] = [];
  // Two buffers in turn: the next segment is read while this one is queried.
  const buffers = [new ReadBuffer(), new ReadBuffer()];
  const later = plan.files.map((e, i) => ('later' in e ? i : -1)).filter((i) => i >= 0);
  const prefetch = (k: number): Promise<LineageFile> | undefined => {
    const i = later[k];
    if (i === undefined) return undefined;
    const p = openSegmentFile((plan.files[i] as { later: string }).later, { reuse: buffers[k % 2] });
    p.catch(() => undefined); // reported where it is awaited
    return p;
  };
  let k = 0;
  let next = prefetch(0);
  try {
    for (const entry of plan.files) {
      let file: LineageFile;
      if ('open' in entry) file = entry.open;
      else {
        file = await next!;
        next = prefetch(++k); // into the other buffer, whose file is closed
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
        if ('later' in entry) file.db.close(); // its buffer is free for the one after next
      }
      sources.push(file.path);
    }
  } finally {
    if (next) await next.then((f) => f.db.close(), () => undefined);
  }
  return { items: rows.finish(), versions: versionsOf(artifacts, mergeExecutions(perFile)), sources };
}

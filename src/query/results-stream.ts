import { loadExecutions, mergeExecutions, type ExecutionFact } from './executions.js';
import { damagedFileError, ReadBuffer } from './mlmd-file.js';
import type { ResultsPlan } from './model-sources.js';
import { modelArtifactsOf, versionsOf, type ModelArtifact, type ModelVersion } from './models.js';
import { MlmdReader } from './reader.js';
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
 * is closed before the next is read, into the same buffer. Memory stays at
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
  const buffer = new ReadBuffer();
  for (const entry of plan.files) {
    const file = 'open' in entry ? entry.open : await openSegmentFile(entry.later, { reuse: buffer });
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
      if ('later' in entry) file.db.close(); // the buffer is reused for the next one
    }
    sources.push(file.path);
  }
  return { items: rows.finish(), versions: versionsOf(artifacts, mergeExecutions(perFile)), sources };
}

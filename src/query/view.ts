import { countOutputs, loadExecutions, mergeExecutions, outputUris, type ExecutionFact } from './executions.js';
import { MlmdReader, type LineageFile } from './reader.js';

/**
 * Several MLMD files read as one lineage: the live mlmd plus kept segments,
 * or a single file. Executions are joined on Execution_uuid and model versions
 * on md5; row ids are only meaningful inside their own file.
 */
export class LineageView {
  private constructor(
    readonly readers: MlmdReader[],
    /** Each file's own executions, by reader label. */
    readonly perFile: Map<string, ExecutionFact[]>,
    /** One per uuid over all files. */
    readonly executions: ExecutionFact[],
  ) {}

  /**
   * `counts` adds per-execution result/measurement counts: one pass over the
   * OUTPUT events, which `results` does not need but `models` and `graph` do.
   */
  static load(files: LineageFile[], opts: { counts: boolean }): LineageView {
    const readers = files.map((f) => new MlmdReader(f));
    const perFile = new Map<string, ExecutionFact[]>();
    for (const r of readers) {
      const facts = loadExecutions(r);
      if (opts.counts) countOutputs(r, facts);
      perFile.set(r.label, facts);
    }
    const merged = mergeExecutions([...perFile.values()]);
    if (opts.counts) exactCountsAcrossFiles(readers, perFile, merged);
    return new LineageView(readers, perFile, merged);
  }

  reader(label: string): MlmdReader | undefined {
    return this.readers.find((r) => r.label === label);
  }

  close(): void {
    for (const r of this.readers) r.close();
  }
}

/**
 * An execution found in several files (a segment cut while it was open, and
 * the live mlmd) may hold different outputs in each: count the union.
 */
function exactCountsAcrossFiles(readers: MlmdReader[], perFile: Map<string, ExecutionFact[]>, merged: ExecutionFact[]): void {
  for (const m of merged) {
    if (m.files.length < 2) continue;
    const results = new Set<string>();
    const measurements = new Set<string>();
    for (const label of m.files) {
      const r = readers.find((x) => x.label === label);
      const f = perFile.get(label)?.find((x) => x.uuid === m.uuid);
      if (!r || !f) continue;
      const u = outputUris(r, f.id);
      for (const x of u.results) results.add(x);
      for (const x of u.measurements) measurements.add(x);
    }
    m.results = results.size;
    m.measurements = measurements.size;
  }
}

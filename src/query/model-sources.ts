import path from 'node:path';
import type { SegmentSummary } from '../recorder/segment.js';
import { segmentMlmdFiles } from '../workspace/segments.js';
import { loadExecutions, type ExecutionFact } from './executions.js';
import { latestAndPrevious, modelVersions, resolveModelSpec, unusedVersion, type ModelVersion } from './models.js';
import { LineageView } from './view.js';
import { MlmdReader, type LineageFile } from './reader.js';
import { openSources, openSegmentFile, openSegmentFiles, type OpenedSources, type SourceOptions } from './sources.js';

/**
 * The sources `results --model SPEC` needs: the live mlmd, plus only the kept
 * segments that can hold the named model version(s). A segment's summary
 * lists the model versions its executions ran, so a query for the latest
 * version of a long-running workspace opens a few recent segments instead of
 * loading every one (a 100,000-result workspace holds ~300 MB of segments).
 *
 * Segments are sealed in order, so the newest executions are in the live
 * mlmd, then in the newest segment, and so on: `latest` and `previous` are
 * found by opening segments newest first, passing over those whose summary
 * shows they ran only the version already known to be the latest. Whatever
 * cannot be decided from summaries (a segment without one, a spec naming
 * the plugin's model file) falls back to opening everything.
 */
export async function openSourcesForModel(o: SourceOptions, spec: string): Promise<OpenedSources> {
  if (o.file !== undefined) return openSources(o);
  const live = await openSources({ ...o, segments: false });
  const kept = (await segmentMlmdFiles(live.root!)).map((f) => path.dirname(f));
  if (kept.length === 0) return live;
  // Every kept segment must be summarised (a copied-in folder may have only its mlmd), and say which versions ran.
  const byDir = new Map((live.summaries ?? []).map((s) => [s.dir, s]));
  const summaries = kept.map((d) => byDir.get(d));
  if (summaries.some((s) => s === undefined || (s.models.length === 0 && s.counts.Dataset + s.counts.Metrics > 0))) {
    live.close();
    return openSources(o);
  }
  return openChosen(live, summaries as SegmentSummary[], spec);
}

async function openChosen(live: OpenedSources, summaries: SegmentSummary[], spec: string): Promise<OpenedSources> {
  const opened = new Map<SegmentSummary, LineageFile>();
  const files = () => [...live.files, ...summaries.filter((s) => opened.has(s)).map((s) => opened.get(s)!)];
  const open = async (s: SegmentSummary) => {
    if (!opened.has(s)) opened.set(s, await openSegmentFile(s.dir));
  };
  const facts = (): ExecutionFact[] =>
    files().flatMap((f) => {
      const r = new MlmdReader(f);
      try {
        return loadExecutions(r);
      } finally {
        r.close();
      }
    });
  try {
    const liveVersions = () => {
      const view = LineageView.load(live.files, { counts: false });
      try {
        return modelVersions(view);
      } finally {
        view.close();
      }
    };
    const md5s = await chooseModels(spec, summaries, facts, open, liveVersions);
    const wanted = summaries.filter((s) => !opened.has(s) && (md5s === undefined || s.models.some((m) => md5s.includes(m.md5))));
    const loaded = await openSegmentFiles(wanted.map((s) => s.dir));
    wanted.forEach((s, i) => opened.set(s, loaded[i]!));
  } catch (err) {
    for (const f of opened.values()) f.db.close();
    live.close();
    throw err;
  }
  const all = files();
  return {
    files: all,
    root: live.root,
    partial: all.length < live.files.length + summaries.length,
    describe: all.map((f) => f.path).join(', '),
    close: () => {
      for (const f of all) f.db.close();
    },
  };
}

/** The md5s SPEC names, opening segments as needed; undefined when only the full view can tell. */
async function chooseModels(
  spec: string,
  summaries: SegmentSummary[],
  facts: () => ExecutionFact[],
  open: (s: SegmentSummary) => Promise<void>,
  liveVersions: () => ModelVersion[],
): Promise<string[] | undefined> {
  if (spec === 'latest' || spec === 'previous') {
    const newestFirst = [...summaries].reverse();
    let found = latestAndPrevious(facts());
    for (const s of newestFirst) {
      if (found.latest !== undefined && (spec === 'latest' || found.previous !== undefined)) break;
      // Only the latest version ran here: it cannot name another one.
      if (found.latest !== undefined && s.models.every((m) => m.md5 === found.latest)) continue;
      await open(s);
      found = latestAndPrevious(facts());
    }
    const md5 = found[spec];
    return md5 === undefined ? undefined : [md5];
  }
  // An md5, a prefix or a recorded path: decided on every version any file
  // names (the live mlmd's, with the plugin's file path, and every summary's).
  const versions = new Map<string, ModelVersion>();
  for (const v of liveVersions()) versions.set(v.md5, v);
  for (const s of summaries) for (const m of s.models) if (!versions.has(m.md5)) versions.set(m.md5, unusedVersion(m.md5, m.path, null, 0n));
  try {
    return resolveModelSpec(spec, [...versions.values()], []);
  } catch {
    return undefined; // e.g. the plugin's model file path, only the live mlmd knows it: decide on the full view
  }
}

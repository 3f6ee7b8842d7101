import path from 'node:path';
import { segmentExecutions, type SegmentSummary } from '../recorder/segment.js';
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
  const summaries = await keptSummaries(live);
  if (summaries === undefined) {
    live.close();
    return openSources(o);
  }
  if (summaries.length === 0) return live;
  let choice: Choice;
  try {
    choice = await chooseSegments(live, summaries, spec);
    const wanted = choice.toRead.filter((s) => !choice.opened.has(s));
    const loaded = await openSegmentFiles(wanted.map((s) => s.dir));
    wanted.forEach((s, i) => choice.opened.set(s, loaded[i]!));
  } catch (err) {
    live.close();
    throw err;
  }
  const all = [...live.files, ...summaries.filter((s) => choice.opened.has(s)).map((s) => choice.opened.get(s)!)];
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

/**
 * What `results` reads when the files can be taken one at a time: the live
 * mlmd (open), then the kept segments in order, each opened only when its
 * turn comes (`open` in `later`). Undefined when that cannot be planned from
 * the summaries (see openSourcesForModel); then the whole view is read.
 */
export interface ResultsPlan {
  /** In reading order: the live mlmd, then the segments oldest first. */
  files: ({ open: LineageFile } | { later: string })[];
  /** The version(s) --model names; undefined: every row. */
  models: string[] | undefined;
  /** Execution uuids found in more than one of these files. */
  shared: Set<string>;
  partial: boolean;
  /** Closes what the plan holds open. */
  close(): void;
}

export async function planResults(o: SourceOptions, spec: string | undefined): Promise<ResultsPlan | undefined> {
  if (o.file !== undefined) return undefined;
  const live = await openSources({ ...o, segments: false });
  try {
    const summaries = await keptSummaries(live);
    if (summaries === undefined) return void live.close();
    const choice: Choice = spec === undefined ? { opened: new Map(), toRead: summaries, md5s: undefined } : await chooseSegments(live, summaries, spec);
    const close = () => {
      live.close();
      for (const f of choice.opened.values()) f.db.close();
    };
    if (spec !== undefined && choice.md5s === undefined) return void close();
    const reading = summaries.filter((s) => choice.opened.has(s) || choice.toRead.includes(s));
    const shared = await sharedAcross(live.files, reading);
    if (shared === undefined) return void close();
    const read = new Set(reading);
    const files: ResultsPlan['files'] = live.files.map((f) => ({ open: f }));
    for (const s of summaries) {
      if (!read.has(s)) continue;
      const f = choice.opened.get(s);
      files.push(f ? { open: f } : { later: s.dir });
    }
    return { files, models: choice.md5s, shared, partial: reading.length < summaries.length, close };
  } catch (err) {
    live.close();
    throw err;
  }
}

/**
 * Every kept segment's summary, oldest first; undefined when one is missing
 * (a copied-in folder may have only its mlmd) or does not say which versions
 * ran, and only the files themselves can tell.
 */
async function keptSummaries(live: OpenedSources): Promise<SegmentSummary[] | undefined> {
  const kept = (await segmentMlmdFiles(live.root!)).map((f) => path.dirname(f));
  const byDir = new Map((live.summaries ?? []).map((s) => [s.dir, s]));
  const summaries = kept.map((d) => byDir.get(d));
  if (summaries.some((s) => s === undefined || (s.models.length === 0 && s.counts.Dataset + s.counts.Metrics > 0))) return undefined;
  return summaries as SegmentSummary[];
}

/** Uuids of executions in more than one of these files; from the summaries (or manifests) of the segments. */
async function sharedAcross(open: LineageFile[], segments: SegmentSummary[]): Promise<Set<string> | undefined> {
  const seen = new Map<string, number>();
  const count = (uuids: Iterable<string>) => {
    for (const u of new Set(uuids)) seen.set(u, (seen.get(u) ?? 0) + 1);
  };
  for (const f of open) {
    const r = new MlmdReader(f);
    try {
      count(loadExecutions(r).map((e) => e.uuid));
    } finally {
      r.close();
    }
  }
  for (const s of segments) {
    const uuids = await segmentExecutions(s);
    if (uuids === undefined) return undefined;
    count(uuids);
  }
  return new Set([...seen].filter(([, n]) => n > 1).map(([u]) => u));
}

interface Choice {
  /** Segments opened to decide which version SPEC names. */
  opened: Map<SegmentSummary, LineageFile>;
  /** Segments whose summary lists the version (all of them when it could not be decided). */
  toRead: SegmentSummary[];
  md5s: string[] | undefined;
}

/** Which segments can hold the version SPEC names; closes what it opened if it fails. */
async function chooseSegments(live: OpenedSources, summaries: SegmentSummary[], spec: string): Promise<Choice> {
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
  const liveVersions = () => {
    const view = LineageView.load(live.files, { counts: false });
    try {
      return modelVersions(view);
    } finally {
      view.close();
    }
  };
  try {
    const md5s = await chooseModels(spec, summaries, facts, open, liveVersions);
    return { opened, md5s, toRead: summaries.filter((s) => md5s === undefined || s.models.some((m) => md5s.includes(m.md5))) };
  } catch (err) {
    for (const f of opened.values()) f.db.close();
    throw err;
  }
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

import path from 'node:path';
import { ExecutionState } from '../mlmd/index.js';
import { MODEL_TYPE } from '../cmf/names.js';
import { newestFirst, type ExecutionFact } from './executions.js';
import { bigOf, idList, pathOfName, textOf, type MlmdReader } from './reader.js';
import type { LineageView } from './view.js';

const NS_PER_MS = 1_000_000n;

/**
 * A model version: every Model artifact with this md5 as uri, in any file
 * (cmflib may hold several with one uri; they are one version).
 */
export interface ModelVersion {
  md5: string;
  /** The first-recorded artifact name's path (its first `:` field). */
  path: string;
  /** Every distinct path it was recorded under. */
  paths: string[];
  /** The file the plugin loads (cmf-sage's `source_path`), when recorded. */
  sourcePath: string | null;
  firstUsedNs: bigint | null;
  lastUsedNs: bigint | null;
  /** An execution using it is still open (watch is running). */
  inUse: boolean;
  executions: number;
  results: number;
  measurements: number;
  /** The model of the most recent execution, and the one before it. */
  latest: boolean;
  previous: boolean;
  /** When the first Model artifact was recorded, for ordering versions never used. */
  recordedNs: bigint;
}

export interface ModelArtifact {
  md5: string;
  path: string;
  sourcePath: string | null;
  createdNs: bigint;
}

/** The Model artifacts of one file (as recorded; a version may have several). */
export function modelArtifactsOf(r: MlmdReader): ModelArtifact[] {
  const out: ModelArtifact[] = [];
  for (const [uri, name, created, source] of r.all(
    `SELECT m.uri, m.name, m.create_time_since_epoch,
       (SELECT string_value FROM ArtifactProperty WHERE artifact_id = m.id AND name = 'source_path' AND is_custom_property = 1)
     FROM Artifact m WHERE m.type_id IN (${idList(r.artifactTypeIds(MODEL_TYPE))})
     ORDER BY m.create_time_since_epoch, m.id`,
  )) {
    const md5 = textOf(uri);
    if (!md5) continue;
    out.push({ md5, path: pathOfName(textOf(name)) ?? md5, sourcePath: textOf(source), createdNs: (bigOf(created) ?? 0n) * NS_PER_MS });
  }
  return out;
}

/**
 * The md5 of the model version the most recent execution ran, and of the
 * version before it (executions that ran no model, such as cmflib's data
 * preparation stages, are passed over).
 */
export function latestAndPrevious(executions: ExecutionFact[]): { latest?: string; previous?: string } {
  const ran = executions.filter((e) => e.inputModels.length > 0).sort(newestFirst);
  const latest = ran[0]?.inputModels[0];
  const previous = ran.find((e) => !e.inputModels.includes(latest!))?.inputModels[0];
  return { latest, previous };
}

/** A version as recorded, before any execution that used it is counted. */
export function unusedVersion(md5: string, p: string, sourcePath: string | null, recordedNs: bigint): ModelVersion {
  return {
    md5,
    path: p,
    paths: [p],
    sourcePath,
    firstUsedNs: null,
    lastUsedNs: null,
    inUse: false,
    executions: 0,
    results: 0,
    measurements: 0,
    latest: false,
    previous: false,
    recordedNs,
  };
}

/** Every model version seen, most recently used first (never-used versions last, newest recorded first). */
export function modelVersions(view: LineageView): ModelVersion[] {
  return versionsOf(view.readers.flatMap(modelArtifactsOf), view.executions);
}

/** The versions these Model artifacts (of any files) name, counted over these (merged) executions. */
export function versionsOf(artifacts: ModelArtifact[], executions: ExecutionFact[]): ModelVersion[] {
  const versions = new Map<string, ModelVersion>();
  const byTime = [...artifacts].sort((a, b) => (a.createdNs < b.createdNs ? -1 : a.createdNs > b.createdNs ? 1 : 0));
  for (const a of byTime) {
    const v = versions.get(a.md5);
    if (v) {
      if (!v.paths.includes(a.path)) v.paths.push(a.path);
      v.sourcePath ??= a.sourcePath;
      continue;
    }
    versions.set(a.md5, unusedVersion(a.md5, a.path, a.sourcePath, a.createdNs));
  }
  for (const e of executions) {
    for (const md5 of e.inputModels) {
      const v = versions.get(md5);
      if (!v) continue;
      v.executions++;
      v.results += e.results;
      v.measurements += e.measurements;
      const last = e.endNs ?? e.startNs;
      if (v.firstUsedNs === null || e.startNs < v.firstUsedNs) v.firstUsedNs = e.startNs;
      if (v.lastUsedNs === null || last > v.lastUsedNs) v.lastUsedNs = last;
      if (e.state === ExecutionState.RUNNING) v.inUse = true;
    }
  }
  const { latest, previous } = latestAndPrevious(executions);
  for (const v of versions.values()) {
    v.latest = v.md5 === latest;
    v.previous = v.md5 === previous;
  }
  return [...versions.values()].sort(byRecentUse);
}

function byRecentUse(a: ModelVersion, b: ModelVersion): number {
  const ka = a.lastUsedNs ?? -1n;
  const kb = b.lastUsedNs ?? -1n;
  if (ka !== kb) return ka > kb ? -1 : 1;
  return a.recordedNs === b.recordedNs ? a.md5.localeCompare(b.md5) : a.recordedNs > b.recordedNs ? -1 : 1;
}

export class ModelSpecError extends Error {}

/**
 * The md5s `--model` names: `latest`, `previous`, an md5 (or a unique prefix
 * of at least 6 hex digits), or a path. A path names every version recorded
 * under it (cmf-sage records every version of one file under one path), or
 * the file the plugin loads.
 */
export function resolveModelSpec(spec: string, versions: ModelVersion[], executions: ExecutionFact[]): string[] {
  const known = () => (versions.length ? `known versions: ${versions.map((v) => `${v.md5.slice(0, 8)} (${v.path})`).join(', ')}` : 'no model version is recorded');
  if (spec === 'latest' || spec === 'previous') {
    const md5 = latestAndPrevious(executions)[spec];
    if (!md5) throw new ModelSpecError(`there is no ${spec} model version (${known()})`);
    return [md5];
  }
  if (/^[0-9a-f]{6,32}(\.dir)?$/i.test(spec)) {
    const hits = versions.filter((v) => v.md5.toLowerCase().startsWith(spec.toLowerCase()));
    if (hits.length === 1) return [hits[0].md5];
    if (hits.length > 1) throw new ModelSpecError(`"${spec}" matches ${hits.length} model versions (${hits.map((v) => v.md5).join(', ')}); give more digits`);
  }
  const byPath = versions.filter((v) => v.paths.includes(spec));
  if (byPath.length) return byPath.map((v) => v.md5);
  // The plugin's own model file: every version recorded under the workspace path(s) it was
  // recorded as (older versions, e.g. known from segment summaries only, may not say their source).
  const abs = path.resolve(spec);
  const under = new Set(versions.filter((v) => v.sourcePath === abs).flatMap((v) => v.paths));
  if (under.size) return versions.filter((v) => v.paths.some((p) => under.has(p))).map((v) => v.md5);
  const byBase = versions.filter((v) => v.paths.some((p) => path.posix.basename(p) === spec));
  if (byBase.length) return byBase.map((v) => v.md5);
  const short = /^[0-9a-f]{1,5}$/i.test(spec) ? '; an md5 prefix needs at least 6 hex digits' : '';
  throw new ModelSpecError(`no model version matches "${spec}" (${known()})${short}`);
}

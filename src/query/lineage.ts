import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { ExecutionState, type Value } from '../mlmd/index.js';
import { DATASET_TYPE, METRICS_TYPE, MODEL_TYPE } from '../cmf/names.js';
import { parsePointer } from '../dvc/index.js';
import { inside } from '../fsutil/paths.js';
import { parseUploadName } from '../sources/timestamp.js';
import type { ExecutionFact } from './executions.js';
import { idList, jsonValue, pathOfName, textOf, type MlmdReader } from './reader.js';
import { rowsOfArtifacts, type ResultRow } from './results.js';
import type { LineageView } from './view.js';

/** How a TARGET was read. */
export type TargetKind = 'md5' | 'sha1' | 'upload-key' | 'measurement-key' | 'path';

export interface ParsedTarget {
  text: string;
  kind: TargetKind;
  /** md5, sha1, upload key (`<ts_ns>-<filename>`), measurement key, or path. */
  value: string;
}

/**
 * TARGET forms: an md5; a sha1 (the `shasum` Waggle stores with an upload,
 * and `<ts_ns>-<sha1>` its folder on a node); a `<ts_ns>-<filename>` key or a Sage storage URL
 * ending in one; a measurement key `<name>@<ts_ns>` (as `results` prints it);
 * otherwise a path (a file on disk, its `.dvc` pointer, or the result's path
 * in the workspace).
 */
export function parseTarget(text: string): ParsedTarget {
  const t = text.trim();
  if (/^[0-9a-f]{32}(\.dir)?$/i.test(t)) return { text, kind: 'md5', value: t.toLowerCase() };
  if (/^[0-9a-f]{40}$/i.test(t)) return { text, kind: 'sha1', value: t.toLowerCase() };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) {
    // https://storage.sagecontinuum.org/api/v1/data/<job>/<task-dir>/<node>/<ts>-<filename>
    const last = t.replace(/[?#].*$/, '').replace(/\/+$/, '').split('/').pop() ?? '';
    let key = last;
    try {
      key = decodeURIComponent(last);
    } catch {
      // not %-encoded: Sage puts file names into URLs unescaped
    }
    return { text, kind: 'upload-key', value: key };
  }
  if (parseUploadName(t)) return { text, kind: 'upload-key', value: t };
  if (/^[^/@]+@\d{1,20}$/.test(t)) return { text, kind: 'measurement-key', value: t };
  return { text, kind: 'path', value: t };
}

export interface ExecutionDetail {
  uuid: string;
  type: string | null;
  state: string | null;
  startNs: bigint;
  endNs: bigint | null;
  /** False when the window is MLMD's create/update time (ms), not recorded ns. */
  exactWindow: boolean;
  git: { repo: string | null; start: string | null; end: string | null };
  /** Who ran it: node, plugin, host, app id (cmf-sage), Python_Env (cmflib), … as recorded. */
  identity: Record<string, string | number>;
  command: string | null;
  file: string;
}

export interface LineageLink {
  row: ResultRow;
  execution: ExecutionDetail;
  models: { md5: string; path: string | null }[];
  stage: string | null;
  pipeline: string | null;
}

export interface LineageReport {
  target: ParsedTarget;
  links: LineageLink[];
}

export class TargetNotFoundError extends Error {}

export interface TraceOptions {
  /** The workspace root, to resolve workspace paths and `.dvc` pointers; none with --file. */
  workspace?: string;
}

/** result → execution → model version → stage/pipeline, for every execution that produced the target. */
export async function traceLineage(view: LineageView, text: string, o: TraceOptions = {}): Promise<LineageReport> {
  const target = parseTarget(text);
  const md5 = target.kind === 'path' ? await md5OfPath(target.value, o.workspace) : undefined;
  const links: LineageLink[] = [];
  const notResults: string[] = [];
  for (const r of view.readers) {
    const facts = view.perFile.get(r.label) ?? [];
    const ids = findArtifacts(r, target, md5, o.workspace);
    const rows = rowsOfArtifacts(r, facts, ids);
    if (ids.length && !rows.length) notResults.push(...describeArtifacts(r, ids));
    const byId = new Map(facts.map((f) => [f.uuid, f]));
    for (const row of rows) {
      const f = byId.get(row.executionUuid)!;
      links.push({
        row,
        execution: executionDetail(r, f),
        models: f.inputModels.map((m) => ({ md5: m, path: modelPath(r, m) })),
        stage: f.stage,
        pipeline: f.pipeline,
      });
    }
  }
  // A key names one upload; the same bytes uploaded again are other rows of the same artifact.
  if (target.kind === 'upload-key' || target.kind === 'measurement-key') {
    const exact = links.filter((l) => l.row.key === target.value);
    if (exact.length) links.splice(0, links.length, ...exact);
  }
  if (!links.length) {
    const why = notResults.length
      ? `it is ${[...new Set(notResults)].join('; ')}: lineage starts from a result or measurement (a Dataset or Metrics artifact an execution output)`
      : 'no result, measurement, md5, sha1 or path matches it; "cmf-sage results" lists the keys that do';
    throw new TargetNotFoundError(`"${text}": ${why}`);
  }
  links.sort((a, b) => (a.row.timestampNs < b.row.timestampNs ? -1 : a.row.timestampNs > b.row.timestampNs ? 1 : 0));
  return { target, links: dedupeLinks(links) };
}

/** The live mlmd and a kept segment may both hold the same link. */
function dedupeLinks(links: LineageLink[]): LineageLink[] {
  const seen = new Set<string>();
  return links.filter((l) => {
    const k = `${l.row.kind}\u0000${l.row.executionUuid}\u0000${l.row.md5 ?? ''}\u0000${l.row.key ?? l.row.path}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function findArtifacts(r: MlmdReader, t: ParsedTarget, md5: string | undefined, workspace: string | undefined): number[] {
  const ids = new Set<number>();
  const add = (rows: unknown[][]) => rows.forEach((x) => ids.add(Number(x[0])));
  const byUri = (uri: string) => add(r.all('SELECT id FROM Artifact WHERE uri = ?', [uri])); // idx_artifact_uri
  switch (t.kind) {
    case 'md5':
      byUri(t.value);
      break;
    case 'sha1':
      bySha1(r, t.value, ids);
      break;
    case 'upload-key':
      findUploadKey(r, t.value, ids);
      break;
    case 'measurement-key': {
      const at = t.value.lastIndexOf('@');
      add(
        r.all(
          `SELECT t.artifact_id FROM ArtifactProperty t JOIN ArtifactProperty m
             ON m.artifact_id = t.artifact_id AND m.name = 'measurement' AND m.is_custom_property = 1
           WHERE t.name = 'timestamp_ns' AND t.is_custom_property = 1 AND t.int_value = CAST(? AS INTEGER) AND m.string_value = ?`,
          [t.value.slice(at + 1), t.value.slice(0, at)],
        ),
      );
      break;
    }
    case 'path': {
      if (md5) byUri(md5);
      const rel = workspacePath(t.value, workspace);
      for (const p of new Set([t.value, rel, t.value.replace(/\.dvc$/, ''), rel.replace(/\.dvc$/, '')])) {
        // A scan of Artifact by name prefix: a person typed a path, once.
        add(r.all('SELECT id FROM Artifact WHERE substr(name, 1, length(?) + 1) = ? || \':\'', [p, p]));
      }
      const base = path.basename(t.value).replace(/\.dvc$/, '');
      if (!ids.size && parseUploadName(base)) findUploadKey(r, base, ids);
      break;
    }
  }
  return [...ids];
}

function findUploadKey(r: MlmdReader, key: string, ids: Set<number>): void {
  const add = (rows: unknown[][]) => rows.forEach((x) => ids.add(Number(x[0])));
  // cmf-sage's upload_key property (idx_artifact_property_string) names the first upload of some bytes …
  add(r.all("SELECT artifact_id FROM ArtifactProperty WHERE name = 'upload_key' AND is_custom_property = 1 AND string_value = ?", [key]));
  // … and a later upload of the same bytes is an event whose path key names it (only re-links have paths).
  add(
    r.all(
      `SELECT ev.artifact_id FROM EventPath p JOIN Event ev ON ev.id = p.event_id
       WHERE p.is_index_step = 0 AND (instr(p.step_key, '/' || ? || ':') > 0 OR substr(p.step_key, 1, length(?) + 1) = ? || ':')`,
      [key, key, key],
    ),
  );
  if (ids.size) return;
  // Files without those properties (cmflib, folder mode): the artifact's name ends in the key (a scan, once).
  add(r.all("SELECT id FROM Artifact WHERE instr(name, '/' || ? || ':') > 0 OR substr(name, 1, length(?) + 1) = ? || ':'", [key, key, key]));
  // `<ts_ns>-<sha1>`: the folder pywaggle's upload_file makes on a node.
  const up = parseUploadName(key);
  if (!ids.size && up && /^[0-9a-f]{40}$/.test(up.filename)) bySha1(r, up.filename, ids);
}

/** Artifacts whose recorded sha1 (cmf-sage's custom property) is this one (idx_artifact_property_string). */
function bySha1(r: MlmdReader, sha1: string, ids: Set<number>): void {
  for (const [id] of r.all("SELECT artifact_id FROM ArtifactProperty WHERE name = 'sha1' AND is_custom_property = 1 AND string_value = ?", [sha1])) ids.add(Number(id));
}

/** A path inside the workspace, relative to it (the form artifact names use). */
function workspacePath(p: string, workspace: string | undefined): string {
  if (!workspace) return p;
  const rel = inside(workspace, p);
  return rel ? rel.split(path.sep).join('/') : p;
}

/** The md5 a path stands for: the md5 in a `.dvc` pointer, or the content of an existing file. */
async function md5OfPath(p: string, workspace: string | undefined): Promise<string | undefined> {
  const candidates = [p, `${p}.dvc`];
  if (workspace && !path.isAbsolute(p)) candidates.push(path.join(workspace, p), path.join(workspace, `${p}.dvc`));
  for (const c of candidates) {
    const st = await fsp.stat(c).catch(() => undefined);
    if (!st?.isFile()) continue;
    if (c.endsWith('.dvc')) {
      try {
        return parsePointer(await fsp.readFile(c, 'utf8')).md5;
      } catch {
        // not a pointer: hash it like any file
      }
    }
    return md5File(c);
  }
  return undefined;
}

function md5File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('md5');
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

function describeArtifacts(r: MlmdReader, ids: number[]): string[] {
  return r
    .all(`SELECT t.name, a.name, a.uri FROM Artifact a LEFT JOIN Type t ON t.id = a.type_id WHERE a.id IN (${idList(ids)})`)
    .map(([type, name, uri]) =>
      textOf(type) === MODEL_TYPE
        ? `model version ${textOf(uri)} (${pathOfName(textOf(name))}; see "cmf-sage results --model ${textOf(uri)}")`
        : textOf(type) === DATASET_TYPE || textOf(type) === METRICS_TYPE
          ? `a ${textOf(type)} artifact (${textOf(name)}) that no execution output`
          : `a ${textOf(type)} artifact (${textOf(name)})`,
    );
}

function modelPath(r: MlmdReader, md5: string): string | null {
  const row = r.one(
    `SELECT name FROM Artifact WHERE uri = ? AND type_id IN (${idList(r.artifactTypeIds(MODEL_TYPE))}) ORDER BY create_time_since_epoch, id LIMIT 1`,
    [md5],
  );
  return row ? pathOfName(textOf(row[0])) : null;
}

/** Custom properties that say who ran an execution, in display order. */
const IDENTITY_KEYS = ['node', 'plugin', 'HOST', 'WAGGLE_APP_ID', 'hostname', 'source', 'sidecar_version', 'Python_Env'];

function executionDetail(r: MlmdReader, f: ExecutionFact): ExecutionDetail {
  const props = r.properties('ExecutionProperty', f.id, false);
  const custom = r.properties('ExecutionProperty', f.id, true);
  const s = (v: Value | undefined) => (v === undefined ? null : String(v.value) || null);
  const identity: Record<string, string | number> = {};
  for (const k of IDENTITY_KEYS) if (custom.has(k)) identity[k] = jsonValue(custom.get(k)!);
  return {
    uuid: f.uuid,
    type: f.type,
    state: f.state === null ? null : (ExecutionState[f.state] ?? String(f.state)),
    startNs: f.startNs,
    endNs: f.endNs,
    exactWindow: f.exactWindow,
    git: { repo: s(props.get('Git_Repo')), start: s(props.get('Git_Start_Commit')), end: s(props.get('Git_End_Commit')) },
    identity,
    command: s(props.get('Execution')),
    file: r.label,
  };
}

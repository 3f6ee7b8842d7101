import path from 'node:path';
import { EventType, type Value } from '../mlmd/index.js';
import { DATASET_TYPE, METRICS_TYPE } from '../cmf/names.js';
import { parseUploadName } from '../sources/timestamp.js';
import type { ExecutionFact } from './executions.js';
import { idList, jsonValue, pathOfName, textOf, type MlmdReader } from './reader.js';
import { valueFromRow } from '../mlmd/value.js';
import type { LineageView } from './view.js';
import { TimeOrder } from './time-order.js';

const NS_PER_MS = 1_000_000n;

/** The Sage data API's measurement name for uploaded files. */
export const UPLOAD_NAME = 'upload';

/**
 * One result (a Dataset artifact an execution output) or measurement (a
 * Metrics artifact), with what a person needs to find the same item in the
 * Sage data API or storage.
 */
export interface ResultRow {
  kind: 'result' | 'measurement';
  /** Exact when recorded by cmf-sage; else the artifact's create time (see `missing`). */
  timestampNs: bigint;
  /** File name of a result, measurement name of a measurement. */
  name: string;
  /** Measurements: the published value. Results: null. */
  value: Value | null;
  /** `<ts_ns>-<filename>` (storage key) for uploads, `<name>@<ts_ns>` for measurements. */
  key: string | null;
  md5: string | null;
  sha1: string | null;
  /** The result's path in the workspace (the artifact name's path). */
  path: string | null;
  executionUuid: string;
  /** The model version the execution ran (several joined with `,`; null when it ran none). */
  modelMd5: string | null;
  /** The file the row was read from. */
  file: string;
  /** Fields this file does not record (cmflib-made files lack cmf-sage's custom properties). */
  missing: readonly string[];
}

/** Shared by every complete row (most of them): one allocation fewer per row. */
const NONE: readonly string[] = Object.freeze([]);

export interface ResultFilter {
  /** Model versions (md5); undefined = every row, whichever model produced it. */
  models?: string[];
  sinceNs?: bigint;
  untilNs?: bigint;
  /** Sage name: `upload` for result files, else a measurement name; `*` matches anything. */
  name?: string;
}

/** Every row (one per producing execution) of these artifacts of one file: what `lineage` follows. */
export function rowsOfArtifacts(r: MlmdReader, facts: ExecutionFact[], artifactIds: number[]): ResultRow[] {
  if (artifactIds.length === 0) return [];
  return [...fileRows(r, facts, {}, artifactIds)];
}

/**
 * Where a query's rows go as they are read: kept as objects (the table for
 * people) or as the text of an output format (see TextRows), so that 100k
 * rows are not held as objects the garbage collector copies and marks
 * again and again.
 */
export interface RowStore<Out> {
  add(row: ResultRow): void;
  /** Everything added; `order` is row numbers oldest first, or null when they came in that order. */
  finish(order: Uint32Array | null): Out;
}

/** Rows kept as they are. */
export class RowList implements RowStore<ResultRow[]> {
  private readonly rows: ResultRow[] = [];

  add(row: ResultRow): void {
    this.rows.push(row);
  }

  finish(order: Uint32Array | null): ResultRow[] {
    return order === null ? this.rows : Array.from(order, (i) => this.rows[i]!);
  }
}

/** The rows under the filter from every file of the view, oldest first, each (execution, artifact) once. */
export function queryResults<Out>(view: LineageView, filter: ResultFilter, store: RowStore<Out>): Out {
  const rows = new ResultCollector<Out>(filter, sharedExecutions(view.executions), store);
  for (const r of view.readers) rows.add(r, view.perFile.get(r.label) ?? []);
  return rows.finish();
}

/** Execution uuids found in more than one file (a segment cut while it was open, and the live mlmd). */
export function sharedExecutions(merged: ExecutionFact[]): Set<string> {
  return new Set(merged.filter((e) => e.files.length > 1).map((e) => e.uuid));
}

/**
 * Rows under a filter, gathered file by file (the files need not be open
 * at the same time) into a store, then put in time order.
 */
export class ResultCollector<Out> {
  private readonly times = new TimeOrder();
  private readonly matchName: ((n: string) => boolean) | undefined;
  /** Keys of the rows of shared executions: only those can come twice. */
  private readonly seen: Set<string> | undefined;

  constructor(
    private readonly filter: ResultFilter,
    private readonly shared: Set<string>,
    private readonly store: RowStore<Out>,
  ) {
    this.matchName = nameMatcher(filter.name);
    this.seen = shared.size > 0 ? new Set() : undefined;
  }

  /** One file's rows; `facts` are that file's own executions. */
  add(r: MlmdReader, facts: ExecutionFact[]): void {
    const { filter, matchName, seen, shared, times, store } = this;
    for (const row of fileRows(r, facts, filter)) {
      if (matchName && !matchName(row.kind === 'result' ? UPLOAD_NAME : row.name)) continue;
      if (filter.sinceNs !== undefined && row.timestampNs < filter.sinceNs) continue;
      if (filter.untilNs !== undefined && row.timestampNs > filter.untilNs) continue;
      if (seen && shared.has(row.executionUuid)) {
        const k = `${row.kind}\u0000${row.executionUuid}\u0000${row.md5 ?? row.key ?? row.path}\u0000${row.timestampNs}`;
        if (seen.has(k)) continue;
        seen.add(k);
      }
      times.push(row.timestampNs);
      store.add(row);
    }
  }

  /** Everything added, oldest first; rows of the same time keep their reading order. */
  finish(): Out {
    return this.store.finish(this.times.order());
  }
}

function nameMatcher(name: string | undefined): ((n: string) => boolean) | undefined {
  if (name === undefined) return undefined;
  if (!name.includes('*')) return (n) => n === name;
  const re = new RegExp(`^${name.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
  return (n) => re.test(n);
}

/** Which artifact types the name filter can match at all, to skip the other half in SQL. */
function kindsFor(name: string | undefined): { results: boolean; measurements: boolean } {
  if (name === undefined || name.includes('*')) return { results: true, measurements: true };
  return { results: name === UPLOAD_NAME, measurements: name !== UPLOAD_NAME };
}

/** Which OUTPUT events of one file a query covers. */
interface Scope {
  r: MlmdReader;
  byId: Map<number, ExecutionFact>;
  /** SQL conditions on `o` (Event) and `a` (Artifact). */
  where: string[];
  filter: ResultFilter;
}

/**
 * One file's rows: the OUTPUT events of the chosen executions
 * (idx_event_execution_id), their artifacts (primary key) and the few custom
 * properties a row shows (ArtifactProperty's primary key); nothing else is
 * loaded. Results and measurements are two statements so each probes only the
 * properties it needs: an upload's key carries its exact time and file name,
 * so a result reads two (upload_key, sha1), and time and name only when it has
 * no key (folder mode, cmflib).
 * CROSS JOIN keeps Event as the outer loop: left to itself SQLite walks every
 * artifact of the type and probes Event once per (artifact, execution), 100x
 * slower.
 * Rows are made as they are taken, both statements stepped in turn: a file's
 * rows gathered first (8,000 objects) outlived the young generation, and
 * copying them was most of the garbage collector's time.
 */
function fileRows(r: MlmdReader, facts: ExecutionFact[], filter: ResultFilter, artifactIds?: number[]): Iterable<ResultRow> {
  const wanted = filter.models ? new Set(filter.models) : undefined;
  const execs = wanted ? facts.filter((f) => f.inputModels.some((m) => wanted.has(m))) : facts;
  if (execs.length === 0) return [];
  const byId = new Map(execs.map((f) => [f.id, f]));
  const where = [`o.type = ${EventType.OUTPUT}`];
  if (wanted) where.push(`o.execution_id IN (${idList(byId.keys())})`);
  if (artifactIds) where.push(`o.artifact_id IN (${idList(artifactIds)})`);
  const scope: Scope = { r, byId, where, filter };
  const kinds = kindsFor(filter.name);
  if (!kinds.measurements) return datasetRows(scope);
  if (!kinds.results) return measurementRows(scope);
  return byTime(datasetRows(scope), measurementRows(scope));
}

/**
 * A file's results and its measurements as one sequence in time order, when
 * each is (as recorded); a result before a measurement of the same time.
 * Rows then come in time order file after file, and the answer needs no
 * sort (see TimeOrder).
 */
function* byTime(results: Iterator<ResultRow>, measurements: Iterator<ResultRow>): Generator<ResultRow> {
  try {
    let a = results.next();
    let b = measurements.next();
    while (!a.done && !b.done) {
      if (b.value.timestampNs < a.value.timestampNs) {
        yield b.value;
        b = measurements.next();
      } else {
        yield a.value;
        a = results.next();
      }
    }
    for (; !a.done; a = results.next()) yield a.value;
    for (; !b.done; b = measurements.next()) yield b.value;
  } finally {
    // Left early (an error): both statements are freed, not just the one that threw.
    results.return?.();
    measurements.return?.();
  }
}

const prop = (alias: string, name: string) =>
  `LEFT JOIN ArtifactProperty ${alias} ON ${alias}.artifact_id = a.id AND ${alias}.name = '${name}' AND ${alias}.is_custom_property = 1`;

/** `AND` conditions keeping rows whose time expression is inside --since/--until (bound as int64 text). */
function timeWhere(filter: ResultFilter, expr: string, params: string[]): string[] {
  const out: string[] = [];
  if (filter.sinceNs !== undefined) {
    out.push(`${expr} >= CAST(? AS INTEGER)`);
    params.push(filter.sinceNs.toString());
  }
  if (filter.untilNs !== undefined) {
    out.push(`${expr} <= CAST(? AS INTEGER)`);
    params.push(filter.untilNs.toString());
  }
  return out;
}

type Common = Pick<ResultRow, 'executionUuid' | 'modelMd5' | 'file'>;

/** What every row of one execution shares, built once per execution rather than per row. */
function commonOf(s: Scope): (exec: unknown) => Common | undefined {
  const cache = new Map<number, Common>();
  for (const [id, f] of s.byId) cache.set(id, { executionUuid: f.uuid, modelMd5: f.inputModels.length ? f.inputModels.join(',') : null, file: s.r.label });
  return (exec) => cache.get(Number(exec));
}

function* datasetRows(s: Scope): Generator<ResultRow> {
  const types = s.r.artifactTypeIds(DATASET_TYPE);
  if (!types.length) return;
  const params: string[] = [];
  const where = [...s.where, `a.type_id IN (${idList(types)})`];
  const timed = s.filter.sinceNs !== undefined || s.filter.untilNs !== undefined;
  if (timed) {
    // Prefilter on the recorded time; a re-upload's own time is in its event path, checked exactly in JS.
    const t = timeWhere(s.filter, 'coalesce(ts.int_value, a.create_time_since_epoch * 1000000)', params);
    where.push(`(step IS NOT NULL OR (${t.join(' AND ')}))`);
  }
  // Only re-link events carry a path step; a file with none (most) skips the probe per row.
  const steps = s.r.one('SELECT 1 FROM EventPath WHERE is_index_step = 0 LIMIT 1') !== undefined;
  const sql = `SELECT o.execution_id, a.id, a.uri, a.name, a.create_time_since_epoch,
      uk.string_value, sh.string_value,
      ${steps ? '(SELECT step_key FROM EventPath WHERE event_id = o.id AND is_index_step = 0 LIMIT 1)' : 'NULL'} AS step
    FROM Event o CROSS JOIN Artifact a ON a.id = o.artifact_id
    ${prop('uk', 'upload_key')} ${prop('sh', 'sha1')} ${timed ? prop('ts', 'timestamp_ns') : ''}
    WHERE ${where.join(' AND ')}`; // no ORDER BY: rows come nearly in time order, and a JS sort of that is linear
  const commonFor = commonOf(s);
  for (const [exec, artifactId, uri, name, created, uploadKey, sha1, step] of s.r.fast(sql, params)) {
    const common = commonFor(exec);
    if (!common) continue;
    const up = uploadKey === null ? undefined : parseUploadName(String(uploadKey));
    const row = resultRow(
      { uri: textOf(uri), name: textOf(name), step: textOf(step), sha1: textOf(sha1) },
      up ? { ts: up.ts, key: String(uploadKey), filename: up.filename } : undefined,
      created as number,
      common,
    );
    if (!up && step === null) fillUnkeyed(s.r, row, Number(artifactId));
    yield row;
  }
}

/** A result recorded without an upload key (folder mode, cmflib): its time and file name are separate properties, if recorded at all. */
function fillUnkeyed(r: MlmdReader, row: ResultRow, artifactId: number): void {
  const [ts, fn] = (r.one(`SELECT CAST(ts.int_value AS TEXT), fn.string_value FROM Artifact a ${prop('ts', 'timestamp_ns')} ${prop('fn', 'filename')} WHERE a.id = ?`, [
    artifactId,
  ]) ?? [null, null]).map(textOf);
  if (ts === null && fn === null) return;
  const missing = new Set(row.missing);
  if (ts !== null && ts !== undefined) {
    row.timestampNs = BigInt(ts);
    missing.delete('timestamp_ns');
  }
  if (fn !== null && fn !== undefined) {
    row.name = fn;
    missing.delete('filename');
  }
  row.missing = [...missing];
}

function* measurementRows(s: Scope): Generator<ResultRow> {
  const types = s.r.artifactTypeIds(METRICS_TYPE);
  if (!types.length) return;
  const params: string[] = [];
  const where = [...s.where, `a.type_id IN (${idList(types)})`, ...timeWhere(s.filter, 'coalesce(ts.int_value, a.create_time_since_epoch * 1000000)', params)];
  // The artifact's name is only needed when the measurement's name was not recorded.
  const sql = `SELECT o.execution_id, a.id, CASE WHEN ms.string_value IS NULL THEN a.name END, a.create_time_since_epoch,
      CAST(ts.int_value AS TEXT), ms.string_value, CAST(v.int_value AS TEXT), v.double_value, v.string_value
    FROM Event o CROSS JOIN Artifact a ON a.id = o.artifact_id
    ${prop('ts', 'timestamp_ns')} ${prop('ms', 'measurement')} ${prop('v', 'value')}
    WHERE ${where.join(' AND ')}`;
  const commonFor = commonOf(s);
  for (const [exec, artifactId, name, created, ts, measurement, vi, vd, vs] of s.r.fast(sql, params)) {
    const common = commonFor(exec);
    if (!common) continue;
    const recordedNs = ts === null ? null : BigInt(ts as string);
    const missing = recordedNs !== null && measurement !== null ? NONE : [...(recordedNs === null ? ['timestamp_ns'] : []), ...(measurement === null ? ['measurement'] : [])];
    // cmflib's log_execution_metrics names the artifact `<metrics name>:<uuid>:<execution id>`
    const mname = textOf(measurement) ?? pathOfName(textOf(name)) ?? '';
    const value = valueFromRow(vi === null ? null : BigInt(vi as string), vd, vs, null, null) ?? null;
    const row: ResultRow = {
      kind: 'measurement',
      timestampNs: recordedNs ?? BigInt(created as number) * NS_PER_MS,
      name: mname,
      value,
      key: recordedNs === null ? null : `${mname}@${recordedNs}`,
      md5: null,
      sha1: null,
      path: null,
      executionUuid: common.executionUuid,
      modelMd5: common.modelMd5,
      file: common.file,
      missing,
    };
    if (value === null) cmflibValue(s.r, row, Number(artifactId));
    yield row;
  }
}

/** cmflib stores a metrics artifact's values as the artifact's custom properties themselves. */
function cmflibValue(r: MlmdReader, row: ResultRow, artifactId: number): void {
  const props = r.properties('ArtifactProperty', artifactId, true);
  if (props.size === 0) {
    row.missing = [...row.missing, 'value'];
    return;
  }
  row.value = { kind: 'string', value: JSON.stringify(Object.fromEntries([...props].map(([k, v]) => [k, jsonValue(v)]))) };
}

/**
 * A result row. `upload` is what the artifact's upload key says (the first
 * upload of these bytes); a re-link event's path names a later upload of the
 * same bytes, whose own key and time it holds.
 */
function resultRow(
  a: { uri: string | null; name: string | null; step: string | null; sha1: string | null },
  upload: { ts: bigint; key: string; filename: string } | undefined,
  /** The artifact's create time (ms): the row's time when no upload names it. */
  createdMs: number,
  common: Common,
): ResultRow {
  let p = datasetPath(a.name, a.uri);
  let ts = upload?.ts ?? null;
  let key = upload?.key ?? null;
  let file = upload?.filename ?? null;
  if (a.step !== null) {
    p = datasetPath(a.step, a.uri);
    const base = path.posix.basename(p ?? '');
    const up = parseUploadName(base);
    if (up) {
      ts = up.ts;
      key = base;
      file = up.filename;
    } else {
      // Not an upload name (folder mode, cmflib): this copy's own time was not recorded.
      key = null;
      ts = null;
      file = base || null;
    }
  }
  let missing = NONE;
  if (ts === null || key === null || file === null || a.sha1 === null) {
    const m: string[] = [];
    if (ts === null) m.push('timestamp_ns');
    if (key === null) m.push('upload_key');
    if (file === null) m.push('filename');
    if (a.sha1 === null) m.push('sha1');
    missing = m;
  }
  return {
    kind: 'result',
    timestampNs: ts ?? BigInt(createdMs) * NS_PER_MS,
    name: file ?? path.posix.basename(p ?? ''),
    value: null,
    key,
    md5: a.uri,
    sha1: a.sha1,
    path: p,
    executionUuid: common.executionUuid,
    modelMd5: common.modelMd5,
    file: common.file,
    missing,
  };
}

/** A Dataset is named `<path>:<md5>`: strip the md5 rather than split on `:`, so paths holding `:` survive. */
function datasetPath(name: string | null, uri: string | null): string | null {
  if (name === null) return null;
  // Compared in place: a `:${uri}` string per row showed in profiles of 100k-row answers.
  const cut = uri ? name.length - uri.length - 1 : -1;
  if (cut >= 0 && name.charCodeAt(cut) === 0x3a && name.endsWith(uri!)) return name.slice(0, cut);
  return pathOfName(name);
}

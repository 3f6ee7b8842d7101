import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { getSqlJs, loadMlmd, MlmdStore } from '../mlmd/index.js';
import { UserError } from '../errors.js';
import { fsyncDir, writeFileAtomic } from '../fsutil/atomic.js';
import { crashPoint } from '../faults.js';
import { mapPool } from '../util/pool.js';
import { segmentNames, segmentsDir } from '../workspace/segments.js';

/**
 * Segments keep the live mlmd small. sql.js holds the whole database in
 * memory and rewrites it on every save, so closed executions are moved out
 * into a sealed segment: a standalone MLMD file (same types, contexts and ids)
 * with a manifest, written once and never changed. `push` delivers segments;
 * queries read them beside the live mlmd.
 */

export interface SegmentPointer {
  path: string;
  md5: string;
  size: number;
}

export interface SegmentModel {
  md5: string;
  path: string;
  results: number;
}

export interface SegmentManifest {
  segment: string;
  pipeline: string;
  stage: string;
  mlmdName: string;
  sealedAt: string;
  executions: string[];
  counts: { executions: number; Dataset: number; Model: number; Metrics: number };
  gitEndCommits: string[];
  pointers: SegmentPointer[];
  objects: string[];
  /** Per model version, for status (optional: readers that validate may drop it). */
  models?: SegmentModel[];
  /** Time of the newest artifact (ISO), for status. */
  lastRecordedAt?: string | null;
}

export interface SealedSegment {
  dir: string;
  manifest: SegmentManifest;
}

/**
 * `summary.json` beside a manifest: the few figures `status` shows. A
 * manifest lists every pointer (~900 KB at 5,000 results), so reading
 * summaries keeps `status` at a few KB per segment however long watch runs.
 */
export interface SegmentSummary {
  segment: string;
  dir: string;
  counts: SegmentManifest['counts'];
  models: SegmentModel[];
  lastRecordedAt: string | null;
  /** Bytes of the distinct cache objects the segment names. */
  objectBytes: number;
  /**
   * Execution_uuids of its executions, so queries know which executions
   * also live in another file without opening every mlmd. Absent in
   * summaries written before it existed (the manifest has them).
   */
  executions?: string[];
}

const SUMMARY_FILE = 'summary.json';

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function readJsonNow(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

function hasCounts(x: unknown): x is { counts: SegmentManifest['counts'] } & Record<string, unknown> {
  const c = (x as { counts?: Record<string, unknown> } | null)?.counts;
  return typeof c === 'object' && c !== null && ['executions', 'Dataset', 'Model', 'Metrics'].every((k) => isCount(c[k]));
}

const isModels = (v: unknown): v is SegmentModel[] =>
  Array.isArray(v) && v.every((m) => typeof m?.md5 === 'string' && typeof m?.path === 'string' && isCount(m?.results));

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** A summary as sealSegment writes it; anything else is treated as missing. */
function isSummary(x: unknown): x is Omit<SegmentSummary, 'dir'> {
  const s = x as Record<string, unknown>;
  return (
    hasCounts(x) &&
    typeof s.segment === 'string' &&
    isModels(s.models) &&
    isCount(s.objectBytes) &&
    (s.lastRecordedAt === null || typeof s.lastRecordedAt === 'string') &&
    (s.executions === undefined || isStrings(s.executions))
  );
}

function summarize(dir: string, m: SegmentManifest): SegmentSummary {
  const sizes = new Map<string, number>();
  for (const p of Array.isArray(m.pointers) ? m.pointers : []) if (typeof p?.md5 === 'string' && isCount(p.size)) sizes.set(p.md5, p.size);
  let objectBytes = 0;
  for (const v of sizes.values()) objectBytes += v;
  const lastRecordedAt = typeof m.lastRecordedAt === 'string' ? m.lastRecordedAt : null;
  const executions = isStrings(m.executions) ? { executions: m.executions } : {};
  return { segment: m.segment, dir, counts: m.counts, models: isModels(m.models) ? m.models : [], lastRecordedAt, objectBytes, ...executions };
}

/**
 * Every sealed segment's summary, oldest first. Segments sealed before
 * summaries existed have only a manifest: their summary is derived from it.
 */
export async function listSegmentSummaries(root: string): Promise<SegmentSummary[]> {
  const found = await mapPool(await segmentNames(root), 8, async (name): Promise<SegmentSummary | undefined> => {
    const dir = path.join(segmentsDir(root), name);
    // A summary is a few hundred bytes: read at once. Through the thread pool, each of a hundred
    // reads waited its turn while the main thread was busy (a query: ~30 ms instead of ~5).
    const s = readJsonNow(path.join(dir, SUMMARY_FILE));
    if (isSummary(s)) return { ...s, dir };
    // No usable summary (an older segment, or a damaged file): fall back to the manifest.
    const m = await readJson(path.join(dir, 'manifest.json'));
    if (hasCounts(m)) return summarize(dir, { ...m, segment: typeof m.segment === 'string' ? m.segment : name } as SegmentManifest);
    return undefined; // without a readable manifest it is not a sealed segment (push skips it too)
  });
  return found.filter((s): s is SegmentSummary => s !== undefined);
}

/** A segment folder with its manifest; undefined when the manifest cannot be read (then it is not a sealed segment). */
async function sealedAt(root: string, name: string): Promise<SealedSegment | undefined> {
  const dir = path.join(segmentsDir(root), name);
  const manifest = await readJson(path.join(dir, 'manifest.json'));
  return typeof manifest === 'object' && manifest !== null ? { dir, manifest: manifest as SegmentManifest } : undefined;
}

/**
 * A sealed segment's mlmd, integrity-checked (as anything delivered or
 * exported is). One that is gone or empty is damage, not an empty store:
 * loadMlmd would start a fresh one, and a push or export would then carry
 * nothing of that segment. `what` completes "cannot be …" in the message.
 */
export async function loadSegmentMlmd(dir: string, what: string): Promise<MlmdStore> {
  const file = path.join(dir, 'mlmd');
  const st = await fsp.stat(file).catch(() => undefined);
  if (!st?.isFile() || st.size === 0) {
    throw new UserError(`${file} ${segmentMlmdGone(file, !st ? 'missing' : st.isFile() ? 'empty' : 'not a file', what)}`, 2);
  }
  return new MlmdStore((await loadMlmd(file)).db);
}

/** What to say after a kept segment's mlmd path when it is missing, empty or not a file (one wording for every command). */
export function segmentMlmdGone(file: string, state: 'missing' | 'empty' | 'not a file', what: string): string {
  return `is ${state}, so this kept segment's lineage cannot be ${what}; restore the segment folder from a backup, or move it out of ${path.dirname(path.dirname(file))}`;
}

/**
 * The Execution_uuids of a segment: its summary's, or for a summary written
 * before summaries listed them, its manifest's; undefined when neither says.
 */
export async function segmentExecutions(s: SegmentSummary): Promise<string[] | undefined> {
  if (s.executions) return s.executions;
  const m = (await readJson(path.join(s.dir, 'manifest.json'))) as { executions?: unknown } | undefined;
  return isStrings(m?.executions) ? m.executions : undefined;
}

/** The newest sealed segment with its manifest, or undefined (reads one manifest, not all). */
export async function newestSegment(root: string): Promise<SealedSegment | undefined> {
  for (const name of (await segmentNames(root)).reverse()) {
    const seg = await sealedAt(root, name);
    if (seg) return seg;
  }
  return undefined;
}

/** Sealed segments, oldest first (names are zero-padded sequence numbers). */
export async function listSegments(root: string): Promise<SealedSegment[]> {
  const out: SealedSegment[] = [];
  for (const name of await segmentNames(root)) {
    const seg = await sealedAt(root, name);
    if (seg) out.push(seg);
  }
  return out;
}

function idList(ids: number[]): string {
  return ids.map((n) => String(Math.trunc(n))).join(',') || 'NULL';
}

function rows(store: MlmdStore, sql: string): unknown[][] {
  return store.db.exec(sql)[0]?.values ?? [];
}

/** Closed executions of a stage, oldest first. */
export function closedExecutions(store: MlmdStore, stageName: string): number[] {
  return rows(
    store,
    `SELECT e.id FROM Execution e
       JOIN Association s ON s.execution_id = e.id
       JOIN Context c ON c.id = s.context_id
      WHERE c.name = '${stageName.replace(/'/g, "''")}' AND e.last_known_state = 3
      ORDER BY e.id`,
  ).map((r) => Number(r[0]));
}

/** Results (Dataset and Metrics artifacts) in the store. */
export function resultCount(store: MlmdStore): number {
  return Number(
    rows(store, "SELECT count(*) FROM Artifact a JOIN Type t ON t.id = a.type_id WHERE t.name IN ('Dataset','Metrics') AND t.type_kind = 1")[0]?.[0] ?? 0,
  );
}

/** Remove executions (with their events, properties, associations) and artifacts nothing links to any more. */
export function pruneExecutions(store: MlmdStore, executionIds: number[], keep: 'these' | 'others'): void {
  const ids = idList(executionIds);
  const sel = keep === 'others' ? `IN (${ids})` : `NOT IN (${ids})`;
  store.transaction(() => {
    store.db.exec(`
      DELETE FROM EventPath WHERE event_id IN (SELECT id FROM Event WHERE execution_id ${sel});
      DELETE FROM Event WHERE execution_id ${sel};
      DELETE FROM ExecutionProperty WHERE execution_id ${sel};
      DELETE FROM Association WHERE execution_id ${sel};
      DELETE FROM Execution WHERE id ${sel};
      DELETE FROM ArtifactProperty WHERE artifact_id NOT IN (SELECT artifact_id FROM Event);
      DELETE FROM Attribution WHERE artifact_id NOT IN (SELECT artifact_id FROM Event);
      DELETE FROM Artifact WHERE id NOT IN (SELECT artifact_id FROM Event);
    `);
  });
}

/** The manifest's facts, read from a segment database. */
function describe(store: MlmdStore): Omit<SegmentManifest, 'segment' | 'pipeline' | 'stage' | 'mlmdName' | 'sealedAt'> {
  const executions = rows(store, "SELECT string_value FROM ExecutionProperty WHERE name = 'Execution_uuid' AND is_custom_property = 0 ORDER BY execution_id").map((r) => String(r[0]));
  const count = (t: string) => Number(rows(store, `SELECT count(*) FROM Artifact a JOIN Type t ON t.id = a.type_id WHERE t.name = '${t}' AND t.type_kind = 1`)[0]?.[0] ?? 0);
  const gitEndCommits = [
    ...new Set(rows(store, "SELECT string_value FROM ExecutionProperty WHERE name = 'Git_End_Commit' AND is_custom_property = 0 ORDER BY execution_id").map((r) => String(r[0])).filter(Boolean)),
  ];
  const pointers = rows(
    store,
    `SELECT a.name, a.uri, (SELECT p.int_value FROM ArtifactProperty p WHERE p.artifact_id = a.id AND p.name = 'size' AND p.is_custom_property = 1)
       FROM Artifact a JOIN Type t ON t.id = a.type_id WHERE t.name IN ('Dataset','Model') AND t.type_kind = 1 ORDER BY a.id`,
  ).map(([name, uri, size]) => ({ path: `${String(name).split(':')[0]}.dvc`, md5: String(uri), size: Number(size ?? 0) }));
  const models = rows(
    store,
    `SELECT m.uri, m.name,
       (SELECT count(DISTINCT o.artifact_id) FROM Event i
          JOIN Event o ON o.execution_id = i.execution_id AND o.type = 4
          JOIN Artifact d ON d.id = o.artifact_id JOIN Type dt ON dt.id = d.type_id AND dt.name = 'Dataset'
         WHERE i.artifact_id = m.id AND i.type = 3)
       FROM Artifact m JOIN Type t ON t.id = m.type_id WHERE t.name = 'Model' AND t.type_kind = 1 ORDER BY m.id`,
  ).map(([uri, name, results]) => ({ md5: String(uri), path: String(name).split(':')[0], results: Number(results) }));
  const last = Number(rows(store, 'SELECT max(create_time_since_epoch) FROM Artifact')[0]?.[0] ?? 0);
  return {
    executions,
    counts: { executions: executions.length, Dataset: count('Dataset'), Model: count('Model'), Metrics: count('Metrics') },
    gitEndCommits,
    pointers,
    objects: [...new Set(pointers.map((p) => p.md5))],
    models,
    lastRecordedAt: last > 0 ? new Date(last).toISOString() : null,
  };
}

export interface SealOptions {
  root: string;
  pipeline: string;
  stage: string;
  mlmdName: string;
  now?: () => number;
}

/**
 * Write the given (closed) executions as a new sealed segment. The folder is
 * built under a dot-name and renamed into place, so a reader or a crash sees
 * a whole segment or none. The live store is not changed here: the caller
 * prunes it and checkpoints (a crash in between is undone at the next start by
 * pruning what a sealed manifest names).
 */
export async function sealSegment(store: MlmdStore, executionIds: number[], o: SealOptions): Promise<SealedSegment> {
  const SQL = await getSqlJs();
  const { MlmdStore: Store } = await import('../mlmd/index.js');
  const copy = new Store(new SQL.Database(store.db.export()));
  try {
    pruneExecutions(copy, executionIds, 'these');
    copy.db.exec('VACUUM');
    const base = segmentsDir(o.root);
    await fsp.mkdir(base, { recursive: true });
    const names = await segmentNames(o.root);
    const seq = String((names.length ? Number(names[names.length - 1]) : 0) + 1).padStart(6, '0');
    const manifest: SegmentManifest = {
      segment: seq,
      pipeline: o.pipeline,
      stage: o.stage,
      mlmdName: o.mlmdName,
      sealedAt: new Date(o.now ? o.now() : Date.now()).toISOString(),
      ...describe(copy),
    };
    const tmp = path.join(base, `.${seq}.tmp`);
    await fsp.rm(tmp, { recursive: true, force: true });
    await fsp.mkdir(tmp);
    await writeFileAtomic(path.join(tmp, 'mlmd'), copy.db.export());
    await writeFileAtomic(path.join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
    const { dir: _dir, ...summary } = summarize(tmp, manifest);
    await writeFileAtomic(path.join(tmp, SUMMARY_FILE), JSON.stringify(summary) + '\n');
    crashPoint('segment.written');
    const dir = path.join(base, seq);
    await fsp.rename(tmp, dir);
    await fsyncDir(base);
    return { dir, manifest };
  } finally {
    copy.db.close();
  }
}

import { EventType, ExecutionState } from '../mlmd/index.js';
import { DATASET_TYPE, METRICS_TYPE, MODEL_TYPE, PIPELINE_CONTEXT_TYPE, STAGE_CONTEXT_TYPE } from '../cmf/names.js';
import { bigOf, idList, numOf, textOf, type MlmdReader } from './reader.js';

const NS_PER_MS = 1_000_000n;

/** What the queries need to know about one execution, whichever file it is in. */
export interface ExecutionFact {
  /** Label of the file it was read from (the first one, after a merge). */
  file: string;
  /** Row id in that file; ids are not a key across files. */
  id: number;
  /** Execution_uuid, the join key across files; `<file>#<id>` for executions without one (very old cmflib). */
  uuid: string;
  type: string | null;
  state: ExecutionState | null;
  /** window_start_ns, else the create time (ms → ns). */
  startNs: bigint;
  /** window_end_ns, else the last update of a finished execution; null while it is open. */
  endNs: bigint | null;
  /** True when the window times were recorded (cmf-sage), false when derived from MLMD's ms times. */
  exactWindow: boolean;
  /** md5s of the Model artifacts with an INPUT event from this execution: the model version it ran. */
  inputModels: string[];
  /** md5s of Models it produced (cmflib training stages). */
  outputModels: string[];
  stage: string | null;
  pipeline: string | null;
  /** Dataset / Metrics artifacts with an OUTPUT event; filled by countOutputs. */
  results: number;
  measurements: number;
  /** Files it was found in (the live mlmd and kept segments may both hold it). */
  files: string[];
}

/** Every execution of one file, with its model inputs/outputs and stage. Counts are 0 until countOutputs. */
export function loadExecutions(r: MlmdReader): ExecutionFact[] {
  const facts = new Map<number, ExecutionFact>();
  const rows = r.all(
    `SELECT e.id, t.name, e.last_known_state, e.create_time_since_epoch, e.last_update_time_since_epoch,
       (SELECT string_value FROM ExecutionProperty WHERE execution_id = e.id AND name = 'Execution_uuid' AND is_custom_property = 0),
       (SELECT int_value FROM ExecutionProperty WHERE execution_id = e.id AND name = 'window_start_ns' AND is_custom_property = 1),
       (SELECT int_value FROM ExecutionProperty WHERE execution_id = e.id AND name = 'window_end_ns' AND is_custom_property = 1)
     FROM Execution e LEFT JOIN Type t ON t.id = e.type_id ORDER BY e.id`,
  );
  for (const [id, type, state, created, updated, uuid, start, end] of rows) {
    const n = Number(id);
    const st = numOf(state) as ExecutionState | null;
    const startNs = bigOf(start);
    const endNs = bigOf(end);
    const finished = st !== null && st !== ExecutionState.RUNNING && st !== ExecutionState.NEW;
    facts.set(n, {
      file: r.label,
      id: n,
      uuid: textOf(uuid) || `${r.label}#${n}`,
      type: textOf(type),
      state: st,
      startNs: startNs ?? (bigOf(created) ?? 0n) * NS_PER_MS,
      endNs: endNs ?? (finished ? (bigOf(updated) ?? 0n) * NS_PER_MS : null),
      exactWindow: startNs !== null,
      inputModels: [],
      outputModels: [],
      stage: null,
      pipeline: null,
      results: 0,
      measurements: 0,
      files: [r.label],
    });
  }
  // Model events: Artifact by type (the (type_id, name) index), then Event by artifact (its unique index).
  const models = r.artifactTypeIds(MODEL_TYPE);
  for (const [exec, type, uri] of r.all(
    `SELECT ev.execution_id, ev.type, m.uri FROM Artifact m JOIN Event ev ON ev.artifact_id = m.id
     WHERE m.type_id IN (${idList(models)}) AND ev.type IN (${EventType.INPUT}, ${EventType.OUTPUT})
     ORDER BY ev.id`,
  )) {
    const f = facts.get(Number(exec));
    const md5 = textOf(uri);
    if (!f || !md5) continue;
    const list = Number(type) === EventType.INPUT ? f.inputModels : f.outputModels;
    if (!list.includes(md5)) list.push(md5);
  }
  // Stage (the context the execution is associated with) and its pipeline (the stage's parent).
  for (const [exec, ctxName, ctxType, parentName, parentType] of r.all(
    `SELECT s.execution_id, c.name, ct.name, pc.name, pt.name FROM Association s
       JOIN Context c ON c.id = s.context_id LEFT JOIN Type ct ON ct.id = c.type_id
       LEFT JOIN ParentContext p ON p.context_id = c.id
       LEFT JOIN Context pc ON pc.id = p.parent_context_id LEFT JOIN Type pt ON pt.id = pc.type_id
     ORDER BY s.id`,
  )) {
    const f = facts.get(Number(exec));
    if (!f) continue;
    if (textOf(ctxType) === PIPELINE_CONTEXT_TYPE) {
      f.pipeline ??= textOf(ctxName);
      continue;
    }
    if (f.stage === null || textOf(ctxType) === STAGE_CONTEXT_TYPE) f.stage = textOf(ctxName);
    if (textOf(parentType) === PIPELINE_CONTEXT_TYPE || f.pipeline === null) f.pipeline = textOf(parentName) ?? f.pipeline;
  }
  return [...facts.values()];
}

/** Fill `results` and `measurements`: one pass over the OUTPUT events. */
export function countOutputs(r: MlmdReader, facts: ExecutionFact[]): void {
  const byId = new Map(facts.map((f) => [f.id, f]));
  const datasets = new Set(r.artifactTypeIds(DATASET_TYPE));
  const metrics = r.artifactTypeIds(METRICS_TYPE);
  for (const [exec, typeId, n] of r.all(
    `SELECT o.execution_id, a.type_id, count(*) FROM Event o JOIN Artifact a ON a.id = o.artifact_id
     WHERE o.type = ${EventType.OUTPUT} AND a.type_id IN (${idList([...datasets, ...metrics])})
     GROUP BY o.execution_id, a.type_id`,
  )) {
    const f = byId.get(Number(exec));
    if (!f) continue;
    if (datasets.has(Number(typeId))) f.results += Number(n);
    else f.measurements += Number(n);
  }
}

/**
 * The uris (md5 for results, uuid1 for measurements) an execution output, to
 * count exactly when one execution is spread over several files.
 */
export function outputUris(r: MlmdReader, executionId: number): { results: Set<string>; measurements: Set<string> } {
  const datasets = new Set(r.artifactTypeIds(DATASET_TYPE));
  const metrics = r.artifactTypeIds(METRICS_TYPE);
  const out = { results: new Set<string>(), measurements: new Set<string>() };
  for (const [typeId, uri] of r.all(
    `SELECT a.type_id, a.uri FROM Event o JOIN Artifact a ON a.id = o.artifact_id
     WHERE o.execution_id = ? AND o.type = ${EventType.OUTPUT} AND a.type_id IN (${idList([...datasets, ...metrics])})`,
    [executionId],
  )) {
    (datasets.has(Number(typeId)) ? out.results : out.measurements).add(textOf(uri) ?? '');
  }
  return out;
}

/**
 * One fact per execution uuid over several files (live mlmd first, then
 * segments). A later copy fills what an earlier one lacks: the end of a
 * window closed after a segment was cut, model links, stage.
 */
export function mergeExecutions(perFile: ExecutionFact[][]): ExecutionFact[] {
  const byUuid = new Map<string, ExecutionFact>();
  for (const list of perFile) {
    for (const f of list) {
      const seen = byUuid.get(f.uuid);
      if (!seen) {
        byUuid.set(f.uuid, { ...f, inputModels: [...f.inputModels], outputModels: [...f.outputModels], files: [...f.files] });
        continue;
      }
      seen.files.push(f.file);
      seen.endNs = maxBig(seen.endNs, f.endNs);
      if (f.startNs < seen.startNs) seen.startNs = f.startNs;
      if (seen.state === null || seen.state === ExecutionState.RUNNING) seen.state = f.state ?? seen.state;
      for (const m of f.inputModels) if (!seen.inputModels.includes(m)) seen.inputModels.push(m);
      for (const m of f.outputModels) if (!seen.outputModels.includes(m)) seen.outputModels.push(m);
      seen.stage ??= f.stage;
      seen.pipeline ??= f.pipeline;
      seen.results = Math.max(seen.results, f.results);
      seen.measurements = Math.max(seen.measurements, f.measurements);
    }
  }
  return [...byUuid.values()];
}

function maxBig(a: bigint | null, b: bigint | null): bigint | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}

/** Most recent first: by window start, then by id. */
export function newestFirst(a: ExecutionFact, b: ExecutionFact): number {
  if (a.startNs !== b.startNs) return a.startNs > b.startNs ? -1 : 1;
  return b.id - a.id;
}

import {
  TypeKind,
  EventType,
  ExecutionState,
  ArtifactState,
  int,
  str,

  type MlmdStore,
  type Value,
} from '../mlmd/index.js';
import {
  DATASET_TYPE,
  DATASET_TYPE_PROPERTIES,
  EXECUTION_TYPE_PROPERTIES,
  METRICS_TYPE,
  METRICS_TYPE_PROPERTIES,
  MODEL_TYPE,
  MODEL_TYPE_PROPERTIES,
  datasetName,
  mergeUrl,
  metricsName,
  modelName,
} from './names.js';
import type { PipelineContexts } from './contexts.js';

/**
 * cmflib's way of writing executions and artifacts, on top of the MLMD store.
 * Every function here is idempotent: recording the same fact twice changes
 * nothing, which is what lets the journal be replayed after a crash.
 */

export interface ExecutionFacts {
  uuid: string;
  executionType: string;
  command: string;
  gitRepo: string;
  gitStart: string;
  customProperties: Record<string, Value>;
  timeMs: number;
}

/** The execution with this Execution_uuid, if recorded. */
export function findExecution(store: MlmdStore, uuid: string): number | undefined {
  return store.findExecutionsByProperty('Execution_uuid', uuid)[0];
}

/** create_execution: the ten cmflib properties, RUNNING, associated with the stage. */
export function openExecution(store: MlmdStore, ctx: PipelineContexts, f: ExecutionFacts): number {
  const existing = findExecution(store, f.uuid);
  if (existing !== undefined) return existing;
  const typeId = store.getOrCreateType(TypeKind.EXECUTION, f.executionType, EXECUTION_TYPE_PROPERTIES);
  const id = store.createExecution({
    typeId,
    name: null,
    state: ExecutionState.RUNNING,
    properties: {
      Execution_uuid: str(f.uuid),
      Context_Type: str(ctx.stageName),
      Context_ID: int(ctx.stageId),
      Execution: str(f.command),
      Execution_type_name: str(ctx.stageName),
      Pipeline_Type: str(ctx.pipeline),
      Pipeline_id: int(ctx.pipelineId),
      Git_Repo: str(f.gitRepo),
      Git_Start_Commit: str(f.gitStart),
      Git_End_Commit: str(''),
    },
    customProperties: f.customProperties,
    nowMs: f.timeMs,
  });
  store.putAssociation(ctx.stageId, id);
  return id;
}

/** finalize(): Git_End_Commit and the window end; the execution is COMPLETE. */
export function closeExecution(
  store: MlmdStore,
  executionId: number,
  gitEnd: string,
  customProperties: Record<string, Value>,
  timeMs: number,
): void {
  const exec = store.getExecution(executionId);
  if (exec && exec.state === ExecutionState.COMPLETE) return;
  store.updateExecution(executionId, {
    state: ExecutionState.COMPLETE,
    properties: { Git_End_Commit: str(gitEnd) },
    customProperties,
    nowMs: timeMs,
  });
}

export interface ModelFacts {
  path: string;
  md5: string;
  url: string;
  gitRepo: string;
  framework: string;
  type: string;
  name: string;
  customProperties: Record<string, Value>;
  timeMs: number;
}

/**
 * log_model(path, event="input"): reuse the Model with this md5 (update its
 * url, link it) or create it with an INPUT event and an attribution.
 */
export function linkModelInput(store: MlmdStore, ctx: PipelineContexts, executionId: number, m: ModelFacts): number {
  const typeId = store.getOrCreateType(TypeKind.ARTIFACT, MODEL_TYPE, MODEL_TYPE_PROPERTIES);
  const existing = store.findArtifactsByUri(m.md5).find((id) => store.getArtifact(id)?.typeId === typeId);
  if (existing !== undefined) {
    relink(store, existing, executionId, EventType.INPUT, `${m.path}:${m.md5}`, m.url, m.timeMs);
    return existing;
  }
  const id = store.createArtifact({
    typeId,
    uri: m.md5,
    name: modelName(m.path, m.md5, executionId),
    state: ArtifactState.LIVE,
    properties: {
      model_framework: str(m.framework),
      model_type: str(m.type),
      model_name: str(m.name),
      Commit: str(m.md5),
      url: str(m.url),
    },
    customProperties: m.customProperties,
    nowMs: m.timeMs,
  });
  store.putEvent({ artifactId: id, executionId, type: EventType.INPUT, timeMs: m.timeMs });
  store.putAttribution(ctx.stageId, id);
  return id;
}

export interface DatasetFacts {
  path: string;
  md5: string;
  url: string;
  gitRepo: string;
  customProperties: Record<string, Value>;
  timeMs: number;
}

/**
 * log_dataset(path, event="output"). cmflib identifies artifacts by content:
 * a file whose bytes were already recorded is linked, not created again. Unlike
 * cmflib, the first recording's custom properties are kept (they name the
 * first upload; overwriting them would lose its timestamp).
 */
export function recordDatasetOutput(
  store: MlmdStore,
  ctx: PipelineContexts,
  executionId: number,
  d: DatasetFacts,
): { id: number; created: boolean } {
  const typeId = store.getOrCreateType(TypeKind.ARTIFACT, DATASET_TYPE, DATASET_TYPE_PROPERTIES);
  const existing = store.findArtifactsByUri(d.md5).find((id) => store.getArtifact(id)?.typeId === typeId);
  if (existing !== undefined) {
    relink(store, existing, executionId, EventType.OUTPUT, datasetName(d.path, d.md5), d.url, d.timeMs);
    return { id: existing, created: false };
  }
  const id = store.createArtifact({
    typeId,
    uri: d.md5,
    name: datasetName(d.path, d.md5),
    state: ArtifactState.LIVE,
    properties: { git_repo: str(d.gitRepo), Commit: str(d.md5), url: str(d.url) },
    customProperties: d.customProperties,
    nowMs: d.timeMs,
  });
  store.putEvent({ artifactId: id, executionId, type: EventType.OUTPUT, timeMs: d.timeMs });
  store.putAttribution(ctx.stageId, id);
  return { id, created: true };
}

export interface MetricFacts {
  measurement: string;
  uri: string;
  customProperties: Record<string, Value>;
  timeMs: number;
}

/** log_execution_metrics: a Metrics artifact named `<name>:<uuid>:<exec id>`, OUTPUT. */
export function recordMetric(store: MlmdStore, ctx: PipelineContexts, executionId: number, m: MetricFacts): number {
  const typeId = store.getOrCreateType(TypeKind.ARTIFACT, METRICS_TYPE, METRICS_TYPE_PROPERTIES);
  const name = metricsName(m.measurement, m.uri, executionId);
  const existing = store.findArtifactByName(typeId, name);
  if (existing !== undefined) return existing;
  const id = store.createArtifact({
    typeId,
    uri: m.uri,
    name,
    state: ArtifactState.LIVE,
    properties: { metrics_name: str(name) },
    customProperties: m.customProperties,
    nowMs: m.timeMs,
  });
  store.putEvent({ artifactId: id, executionId, type: EventType.OUTPUT, timeMs: m.timeMs });
  store.putAttribution(ctx.stageId, id);
  return id;
}

/** link_execution_to_artifact: url merged, one event with a path key, no time. */
function relink(
  store: MlmdStore,
  artifactId: number,
  executionId: number,
  type: EventType,
  pathKey: string,
  url: string,
  timeMs: number,
): void {
  const art = store.getArtifact(artifactId);
  const old = art?.properties.url;
  const oldUrl = old && old.kind === 'string' ? old.value : '';
  const merged = mergeUrl(oldUrl, url);
  if (merged !== oldUrl) store.updateArtifact(artifactId, { properties: { url: str(merged) }, nowMs: timeMs });
  if (!store.hasAnyEvent(artifactId, executionId)) {
    store.putEvent({ artifactId, executionId, type, timeMs: null, pathKey });
  }
}


/**
 * Commits the metadata names, newest execution first (end before start): the
 * candidates for repairing a branch ref that a crash or a disk fault broke.
 */
export function knownGitCommits(store: MlmdStore): string[] {
  const res = store.db.exec(
    `SELECT string_value FROM ExecutionProperty
      WHERE is_custom_property = 0 AND name IN ('Git_End_Commit', 'Git_Start_Commit') AND length(string_value) = 40
      ORDER BY execution_id DESC, name ASC`,
  );
  const out: string[] = [];
  for (const [sha] of res[0]?.values ?? []) if (typeof sha === 'string' && !out.includes(sha)) out.push(sha);
  return out;
}

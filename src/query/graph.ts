import { ExecutionState } from '../mlmd/index.js';
import { type ExecutionFact } from './executions.js';
import { modelVersions, type ModelVersion } from './models.js';
import type { LineageView } from './view.js';

/**
 * The lineage as a picture's data: pipeline → stage → executions, model
 * versions → executions (INPUT; OUTPUT for cmflib training stages), and each
 * execution's results grouped into one node. Past `maxExecutionNodes`,
 * executions of one stage that ran the same model versions become one node,
 * so hundreds of windows still make a readable picture.
 */
export interface LineageGraph {
  pipelines: string[];
  stages: { name: string; pipeline: string | null }[];
  models: ModelVersion[];
  groups: ExecutionGroup[];
  /** True when executions were grouped per stage and model version. */
  summarized: boolean;
  totals: { executions: number; results: number; measurements: number };
  /** Every execution drawn, oldest first (for timelines and tables). */
  executions: ExecutionFact[];
}

export interface ExecutionGroup {
  /** Stable node id: e0, e1, … */
  id: string;
  stage: string | null;
  pipeline: string | null;
  inputModels: string[];
  outputModels: string[];
  executions: ExecutionFact[];
  results: number;
  measurements: number;
  firstNs: bigint;
  lastNs: bigint;
  open: boolean;
}

export const DEFAULT_MAX_EXECUTION_NODES = 24;

export function buildGraph(view: LineageView, o: { models?: string[]; maxExecutionNodes?: number } = {}): LineageGraph {
  const max = o.maxExecutionNodes ?? DEFAULT_MAX_EXECUTION_NODES;
  const wanted = o.models ? new Set(o.models) : undefined;
  const models = modelVersions(view).filter((m) => !wanted || wanted.has(m.md5));
  const executions = view.executions
    .filter((e) => !wanted || e.inputModels.some((m) => wanted.has(m)) || e.outputModels.some((m) => wanted.has(m)))
    .sort((a, b) => (a.startNs === b.startNs ? a.id - b.id : a.startNs < b.startNs ? -1 : 1));
  const summarized = executions.length > max;
  const groups = new Map<string, ExecutionGroup>();
  for (const e of executions) {
    const key = summarized ? [e.stage, e.pipeline, [...e.inputModels].sort().join(','), [...e.outputModels].sort().join(',')].join('\u0000') : e.uuid;
    let g = groups.get(key);
    if (!g) {
      g = {
        id: `e${groups.size}`,
        stage: e.stage,
        pipeline: e.pipeline,
        inputModels: e.inputModels,
        outputModels: e.outputModels,
        executions: [],
        results: 0,
        measurements: 0,
        firstNs: e.startNs,
        lastNs: e.endNs ?? e.startNs,
        open: false,
      };
      groups.set(key, g);
    }
    g.executions.push(e);
    g.results += e.results;
    g.measurements += e.measurements;
    if (e.startNs < g.firstNs) g.firstNs = e.startNs;
    const end = e.endNs ?? e.startNs;
    if (end > g.lastNs) g.lastNs = end;
    if (e.state === ExecutionState.RUNNING) g.open = true;
  }
  const stages = new Map<string, { name: string; pipeline: string | null }>();
  const pipelines = new Set<string>();
  for (const g of groups.values()) {
    if (g.pipeline) pipelines.add(g.pipeline);
    const name = g.stage ?? '(no stage)';
    if (!stages.has(name)) stages.set(name, { name, pipeline: g.pipeline });
  }
  return {
    pipelines: [...pipelines],
    stages: [...stages.values()],
    models,
    groups: [...groups.values()],
    summarized,
    totals: {
      executions: executions.length,
      results: executions.reduce((n, e) => n + e.results, 0),
      measurements: executions.reduce((n, e) => n + e.measurements, 0),
    },
    executions,
  };
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "6 results · 3 metrics" */
export function outputsLabel(results: number, measurements: number): string {
  return `${plural(results, 'result')} · ${plural(measurements, 'metric')}`;
}

export function groupTitle(g: ExecutionGroup): string {
  return g.executions.length === 1 ? `execution ${g.executions[0].uuid.slice(0, 8)}` : `${g.executions.length} executions`;
}

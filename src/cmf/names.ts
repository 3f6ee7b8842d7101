/**
 * cmflib's names, exactly as the real cmf tools and cmf-server expect them
 * (see the research notes on cmflib). Changing a string here breaks
 * interoperability.
 */
import { PropertyType } from '../mlmd/index.js';

export const PIPELINE_CONTEXT_TYPE = 'Parent_Context';
export const STAGE_CONTEXT_TYPE = 'Pipeline_Stage';

export const PIPELINE_TYPE_PROPERTIES = { Pipeline: PropertyType.STRING };
export const STAGE_TYPE_PROPERTIES = { Pipeline_Stage: PropertyType.STRING };

/** The ten declared properties of every cmflib execution type. */
export const EXECUTION_TYPE_PROPERTIES = {
  Execution_uuid: PropertyType.STRING,
  Context_Type: PropertyType.STRING,
  Context_ID: PropertyType.INT,
  Execution: PropertyType.STRING,
  Execution_type_name: PropertyType.STRING,
  Pipeline_Type: PropertyType.STRING,
  Pipeline_id: PropertyType.INT,
  Git_Repo: PropertyType.STRING,
  Git_Start_Commit: PropertyType.STRING,
  Git_End_Commit: PropertyType.STRING,
};

export const DATASET_TYPE = 'Dataset';
export const MODEL_TYPE = 'Model';
export const METRICS_TYPE = 'Metrics';

export const DATASET_TYPE_PROPERTIES = {
  git_repo: PropertyType.STRING,
  Commit: PropertyType.STRING,
  url: PropertyType.STRING,
};
export const MODEL_TYPE_PROPERTIES = {
  model_framework: PropertyType.STRING,
  model_type: PropertyType.STRING,
  model_name: PropertyType.STRING,
  Commit: PropertyType.STRING,
  url: PropertyType.STRING,
};
export const METRICS_TYPE_PROPERTIES = { metrics_name: PropertyType.STRING };

/** Stage context name: `<pipeline>/<stage>`. */
export function stageContextName(pipeline: string, stage: string): string {
  return `${pipeline}/${stage}`;
}

/** Dataset artifact name: `<path as given>:<md5>`. */
export function datasetName(path: string, md5: string): string {
  return `${path}:${md5}`;
}

/** Model artifact name: `<path>:<md5>:<id of the execution that first logged it>`. */
export function modelName(path: string, md5: string, executionId: number): string {
  return `${path}:${md5}:${executionId}`;
}

/** Metrics artifact name (log_execution_metrics): `<metrics name>:<uuid1 uri>:<execution id>`. */
export function metricsName(measurement: string, uri: string, executionId: number): string {
  return `${measurement}:${uri}:${executionId}`;
}

/** Artifact `url` property: `<pipeline>:<location in the default DVC remote>`. */
export function artifactUrl(pipeline: string, remoteObjectUrl: string): string {
  return `${pipeline}:${remoteObjectUrl}`;
}

/**
 * cmflib appends a url for a re-logged artifact comma-separated unless it is
 * already part of the old value; `cmf artifact pull` relies on that shape.
 */
export function mergeUrl(old: string, url: string): string {
  if (!old) return url;
  return old.includes(url) ? old : `${old},${url}`;
}

/** cmflib's `Execution` property: the command as a Python list repr. */
export function commandRepr(argv: string[]): string {
  const quote = (s: string) => {
    const q = s.includes("'") && !s.includes('"') ? '"' : "'";
    const body = s.replace(/\\/g, '\\\\').replace(new RegExp(q, 'g'), `\\${q}`).replace(/\n/g, '\\n');
    return `${q}${body}${q}`;
  };
  return `[${argv.map(quote).join(', ')}]`;
}

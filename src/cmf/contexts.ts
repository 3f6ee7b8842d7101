import { TypeKind, str, type MlmdStore } from '../mlmd/index.js';
import {
  PIPELINE_CONTEXT_TYPE,
  PIPELINE_TYPE_PROPERTIES,
  STAGE_CONTEXT_TYPE,
  STAGE_TYPE_PROPERTIES,
  stageContextName,
} from './names.js';
import { UserError } from '../errors.js';

export interface PipelineContexts {
  pipeline: string;
  pipelineId: number;
  stageName: string;
  stageId: number;
}

/**
 * Find or create the pipeline (`Parent_Context`) and stage (`Pipeline_Stage`)
 * contexts and the ParentContext link, as cmflib's Cmf() and create_context()
 * do. Existing contexts are reused unchanged.
 */
export function ensurePipelineContexts(
  store: MlmdStore,
  pipeline: string,
  stage: string,
  nowMs: number,
): PipelineContexts {
  const pipelineTypeId = store.getOrCreateType(TypeKind.CONTEXT, PIPELINE_CONTEXT_TYPE, PIPELINE_TYPE_PROPERTIES);
  const stageTypeId = store.getOrCreateType(TypeKind.CONTEXT, STAGE_CONTEXT_TYPE, STAGE_TYPE_PROPERTIES);
  const stageName = stageContextName(pipeline, stage);
  const clash = store.findContextsByName(pipeline).find((c) => c.typeId !== pipelineTypeId);
  if (clash !== undefined) {
    throw new UserError(`a context named "${pipeline}" exists in the mlmd file but is not a pipeline; choose another --pipeline`);
  }
  const pipelineId =
    store.findContext(pipelineTypeId, pipeline) ??
    store.createContext({
      typeId: pipelineTypeId,
      name: pipeline,
      properties: { Pipeline: str(pipeline) },
      customProperties: {},
      nowMs,
    });
  const stageId =
    store.findContext(stageTypeId, stageName) ??
    store.createContext({
      typeId: stageTypeId,
      name: stageName,
      properties: { Pipeline_Stage: str(stageName) },
      customProperties: {},
      nowMs,
    });
  store.putParentContext(stageId, pipelineId);
  return { pipeline, pipelineId, stageName, stageId };
}

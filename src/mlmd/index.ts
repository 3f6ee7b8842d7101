export { PropertyType, TypeKind, EventType, ExecutionState, ArtifactState } from './enums.js';
export {
  SCHEMA_VERSION,
  TABLES,
  INDEX_NAMES,
  TOTAL_INDEX_COUNT,
  REQUIRED_COLUMNS,
  BUILTIN_TYPES,
  createSchema,
  upsertBuiltinTypes,
  type TableName,
} from './schema.js';
export { type Value, int, dbl, str, valuesEqual } from './value.js';
export { loadMlmd, type LoadedMlmd } from './open.js';
export { saveMlmd, type SaveOptions, type SaveResult } from './save.js';
export { fileStamp, sameStamp, type FileStamp } from './stamp.js';
export { isSqliteBytes, inspectMlmd, type Inspection } from './inspect.js';
export { getSqlJs } from './sqljs.js';
export { MlmdStore } from './store.js';
export type { Properties } from './properties.js';
export type { NewArtifact, ArtifactUpdate, ArtifactRecord } from './artifacts.js';
export type { NewExecution, ExecutionUpdate, ExecutionRecord } from './executions.js';
export type { NewContext } from './contexts.js';
export type { NewEvent } from './links.js';

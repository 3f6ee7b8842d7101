/**
 * MLMD enum values as stored in SQLite (ml_metadata/proto/metadata_store.proto
 * and constants.h, ml-metadata 1.15). The numbers are the on-disk contract.
 */

/** TypeProperty.data_type. UNKNOWN (0) is refused by the library. */
export enum PropertyType {
  UNKNOWN = 0,
  INT = 1,
  DOUBLE = 2,
  STRING = 3,
  STRUCT = 4,
  PROTO = 5,
  BOOLEAN = 6,
}

/** Type.type_kind. */
export enum TypeKind {
  EXECUTION = 0,
  ARTIFACT = 1,
  CONTEXT = 2,
}

/** Event.type. UNKNOWN (0) is refused by the library. */
export enum EventType {
  UNKNOWN = 0,
  DECLARED_OUTPUT = 1,
  DECLARED_INPUT = 2,
  INPUT = 3,
  OUTPUT = 4,
  INTERNAL_INPUT = 5,
  INTERNAL_OUTPUT = 6,
  PENDING_OUTPUT = 7,
}

/** Execution.last_known_state (NULL = unset). */
export enum ExecutionState {
  UNKNOWN = 0,
  NEW = 1,
  RUNNING = 2,
  COMPLETE = 3,
  FAILED = 4,
  CACHED = 5,
  CANCELED = 6,
}

/** Artifact.state (NULL = unset). */
export enum ArtifactState {
  UNKNOWN = 0,
  PENDING = 1,
  LIVE = 2,
  MARKED_FOR_DELETION = 3,
  DELETED = 4,
  ABANDONED = 5,
  REFERENCE = 6,
}

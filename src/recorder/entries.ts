import type { TailCursor } from '../sources/line-tail.js';

/**
 * The journal's records: facts decided by the recorder, written durably
 * before they are applied to the in-memory MLMD. Replaying them in order on a
 * checkpoint reproduces the same MLMD rows (apply is idempotent), so a crash
 * at any point loses nothing that was journaled. ns values are decimal
 * strings: they exceed 2^53.
 */
export type Entry = OpenEntry | FileEntry | MeasureEntry | CloseEntry | CursorEntry | SeenEntry;

export interface ModelRef {
  md5: string;
  sha1: string;
  size: number;
  /** Workspace path of the model's pointer target, e.g. `models/model.onnx`. */
  path: string;
  /** The file the plugin loads. */
  source: string;
  framework: string;
  type: string;
  name: string;
}

export interface OpenEntry {
  t: 'open';
  uuid: string;
  timeMs: number;
  startNs: string;
  pipeline: string;
  stage: string;
  executionType: string;
  command: string;
  gitRepo: string;
  gitStart: string;
  remoteUrl: string;
  model: ModelRef;
  source: string;
  identity: Record<string, string>;
}

export interface FileEntry {
  t: 'file';
  exec: string;
  timeMs: number;
  md5: string;
  sha1: string;
  size: number;
  path: string;
  filename: string;
  tsNs: string;
  tsExact: boolean;
  uploadKey?: string;
  meta: Record<string, string>;
  origin: string;
}

export interface MeasureEntry {
  t: 'measure';
  exec: string;
  timeMs: number;
  uri: string;
  name: string;
  value: { kind: 'int' | 'string'; value: string } | { kind: 'double'; value: number };
  tsNs: string;
  tsExact: boolean;
  timestampText: string;
  meta: Record<string, string>;
  origin: string;
}

export interface CloseEntry {
  t: 'close';
  exec: string;
  timeMs: number;
  endNs: string;
  gitEnd: string;
}

/** The pywaggle source's read position after the entries before it. */
export interface CursorEntry {
  t: 'cursor';
  cursor: TailCursor;
}

/** Folder-source files recorded (relative path → size, mtime). */
export interface SeenEntry {
  t: 'seen';
  files: Record<string, [number, number]>;
}

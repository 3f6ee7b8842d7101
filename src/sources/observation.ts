import type { JsonNumber } from './json.js';

/**
 * What a source reports: something the plugin produced. Observations are
 * plain data; deciding which execution they belong to is the recorder's job.
 */
export type Observation = ResultFile | Measurement;

/** A file the plugin produced (a pywaggle upload, or a new file in a folder). */
export interface ResultFile {
  kind: 'file';
  /** Absolute path of the bytes to version. */
  path: string;
  /** Path inside the workspace's results tree, POSIX, e.g. `results/2026-12-03/<ts>-x.jpg`. */
  workspacePath: string;
  /** Original file name (pywaggle meta.filename, or the file's basename). */
  filename: string;
  /** Exact production time in ns since epoch (from the upload name, else mtime). */
  tsNs: bigint;
  tsExact: boolean;
  /** Key Waggle storage uses: `<ts_ns>-<filename>` for uploads. */
  uploadKey?: string;
  /** String meta attached by the plugin (pywaggle upload meta, without filename). */
  meta: Record<string, string>;
  /** Where it came from, for messages: `data.ndjson:12` or the relative path. */
  origin: string;
  /** Size and mtime seen when it was picked up (dir mode catch-up). */
  size?: number;
  mtimeMs?: number;
}

/** A published value (every non-upload line of data.ndjson). */
export interface Measurement {
  kind: 'measurement';
  name: string;
  value: MeasurementValue;
  tsNs: bigint;
  tsExact: boolean;
  /** pywaggle's timestamp string, kept verbatim. */
  timestampText: string;
  meta: Record<string, string>;
  origin: string;
}

export type MeasurementValue =
  | { kind: 'int'; value: bigint }
  | { kind: 'double'; value: number }
  | { kind: 'string'; value: string };

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

export function measurementValue(v: string | JsonNumber | boolean): MeasurementValue {
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (typeof v === 'boolean') return { kind: 'int', value: v ? 1n : 0n };
  if (v.isInteger) {
    const n = v.toBigInt();
    // MLMD int_value is int64; Python plugins can publish any int. Keep it exact, as text.
    if (n > INT64_MAX || n < INT64_MIN) return { kind: 'string', value: v.raw };
    return { kind: 'int', value: n };
  }
  // SQLite stores a NaN REAL as NULL, which MLMD cannot read: keep it as text.
  if (!v.isFinite) return { kind: 'string', value: v.raw };
  return { kind: 'double', value: v.toNumber() };
}

import path from 'node:path';
import { promises as fsp } from 'node:fs';
import type { Logger } from '../log.js';
import { parseJson, isObject, JsonNumber, type JsonValue } from './json.js';
import { readNewLines, type TailCursor } from './line-tail.js';
import { parseUploadName, TimestampResolver } from './timestamp.js';
import { measurementValue, type Observation } from './observation.js';
import { resultWorkspacePath } from './layout.js';

/**
 * Reads a pywaggle run-log folder (PYWAGGLE_LOG_DIR): `data.ndjson` lines
 * become observations; `upload` lines point at `uploads/<ts>-<name>`.
 * The upload line is written after the copy finished, so a referenced file is
 * complete when seen.
 */
export class PywaggleSource {
  readonly kind = 'pywaggle';
  private readonly times = new TimestampResolver();
  private readonly ndjson: string;
  private readonly uploadsDir: string;

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
    /** Names of uploads this tool wrote itself (its own archives): never results. */
    private readonly isOwnUpload: (filename: string) => boolean = () => false,
  ) {
    this.ndjson = path.join(dir, 'data.ndjson');
    this.uploadsDir = path.join(dir, 'uploads');
  }

  /** Everything after `cursor`, with the cursor to commit once recorded. */
  async read(
    cursor: TailCursor | undefined,
    maxLines = 500,
  ): Promise<{ observations: Observation[]; cursor: TailCursor | undefined; more: boolean }> {
    // Bounded batches: a backlog of 100k lines is recorded (and acknowledged) in steps.
    const res = await readNewLines(this.ndjson, cursor, { maxLines });
    if (!res) return { observations: [], cursor, more: false };
    if (res.reset && cursor) {
      this.logger.warn({ file: this.ndjson }, 'data.ndjson was truncated or replaced; reading it from the start');
    }
    for (const line of res.skippedLong) {
      this.logger.warn({ file: this.ndjson, line }, 'skipping a line longer than the limit');
    }
    const observations: Observation[] = [];
    for (const { line, bytes } of res.lines) {
      const obs = await this.parseLine(bytes, line);
      if (obs) observations.push(obs);
    }
    return { observations, cursor: res.cursor, more: res.more };
  }

  private warn(line: number, reason: string, extra: Record<string, unknown> = {}): undefined {
    this.logger.warn({ file: this.ndjson, line, ...extra }, `skipping data.ndjson line ${line}: ${reason}`);
    return undefined;
  }

  private async parseLine(bytes: Buffer, line: number): Promise<Observation | undefined> {
    if (bytes.length === 0 || (bytes.length === 1 && bytes[0] === 0x0d)) return undefined;
    if (bytes.includes(0)) return this.warn(line, 'it contains NUL bytes');
    const text = bytes.toString('utf8');
    if (text.includes('\uFFFD') && !Buffer.from(text, 'utf8').equals(bytes)) {
      return this.warn(line, 'it is not valid UTF-8');
    }
    let doc: JsonValue;
    try {
      doc = parseJson(text);
    } catch (err) {
      return this.warn(line, `not valid JSON (${(err as Error).message})`);
    }
    if (!isObject(doc)) return this.warn(line, 'not a JSON object');
    const { name, value, timestamp } = doc;
    if (typeof name !== 'string' || name === '') return this.warn(line, 'no "name"');
    const meta = stringMeta(doc.meta);
    const timestampText = typeof timestamp === 'string' ? timestamp : '';
    const origin = `data.ndjson:${line}`;

    if (name === 'upload') {
      if (typeof value !== 'string') return this.warn(line, 'upload "value" is not a path');
      // The absolute path may be from another container: resolve by file name.
      const base = value.split(/[\\/]/).pop() ?? '';
      const parsed = parseUploadName(base);
      if (!parsed || base === '.' || base === '..') return this.warn(line, `upload name "${base}" is not <timestamp_ns>-<filename>`);
      const filename = meta.filename ?? parsed.filename;
      if (this.isOwnUpload(filename)) return undefined;
      const file = path.join(this.uploadsDir, base);
      let st;
      try {
        st = await fsp.lstat(file);
      } catch {
        return this.warn(line, `the uploaded file ${file} is missing`);
      }
      if (st.isSymbolicLink()) return this.warn(line, `the uploaded file ${file} is a symbolic link; not followed`);
      if (!st.isFile()) return this.warn(line, `the uploaded file ${file} is not a regular file`);
      this.times.learnUpload(parsed.ts, timestampText || undefined);
      delete meta.filename;
      return {
        kind: 'file',
        path: file,
        workspacePath: resultWorkspacePath(parsed.ts, base),
        filename,
        tsNs: parsed.ts,
        tsExact: true,
        uploadKey: base,
        meta,
        origin,
        size: st.size,
        mtimeMs: st.mtimeMs,
      };
    }

    if (!(typeof value === 'string' || typeof value === 'boolean' || value instanceof JsonNumber)) {
      return this.warn(line, '"value" is not a number or string');
    }
    const resolved = timestampText ? this.times.resolve(timestampText) : undefined;
    if (!resolved) return this.warn(line, `timestamp "${timestampText}" is not pywaggle's format`);
    return {
      kind: 'measurement',
      name,
      value: measurementValue(value),
      tsNs: resolved.ns,
      tsExact: resolved.exact,
      timestampText,
      meta,
      origin,
    };
  }
}

function stringMeta(v: JsonValue | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(v)) return out;
  for (const [k, val] of Object.entries(v)) {
    if (typeof val === 'string') out[k] = val;
    else if (val instanceof JsonNumber) out[k] = val.raw;
    else if (typeof val === 'boolean') out[k] = String(val);
  }
  return out;
}

import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { SourceChangedError, type DvcCache } from '../dvc/index.js';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { safeName } from '../sources/layout.js';
import type { ModelRef } from './entries.js';

export interface ModelFileStamp {
  size: number;
  mtimeMs: number;
  ino: number;
}

/** What was hashed last time, so a restart does not re-hash a large model. */
export interface KnownModel {
  stamp: ModelFileStamp;
  ref: ModelRef;
}

export interface ModelOptions {
  framework: string;
  type: string;
  name: string;
  settleMs: number;
  now?: () => number;
  logger?: Pick<Logger, 'warn'>;
}

/**
 * Follows the model file the plugin loads. A new version counts only once
 * the file has stopped changing (same size and mtime for settleMs) and was
 * copied into the cache without changing underneath; a half-written model is
 * never recorded.
 */
export class ModelTracker {
  current: ModelRef | undefined;
  private stamp: ModelFileStamp | undefined;
  private candidate: { stamp: ModelFileStamp; since: number } | undefined;
  private warnedMissing = false;

  constructor(
    readonly file: string,
    private readonly cache: DvcCache,
    private readonly opts: ModelOptions,
  ) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** Check the model path before anything else is touched. */
  static async validate(file: string): Promise<void> {
    let st;
    try {
      st = await fsp.stat(file);
    } catch {
      throw new UserError(`model file ${file} does not exist; pass the file the plugin loads with --model`);
    }
    if (st.isDirectory()) {
      throw new UserError(`model path ${file} is a directory; pass the model file itself with --model`);
    }
    if (!st.isFile()) throw new UserError(`model path ${file} is not a regular file; pass the model file with --model`);
  }

  get workspacePath(): string {
    return `models/${safeName(path.basename(this.file))}`;
  }

  get known(): KnownModel | undefined {
    return this.current && this.stamp ? { stamp: this.stamp, ref: this.current } : undefined;
  }

  /** Resume from what a previous run hashed, if the file is unchanged and still cached. */
  async resume(known: KnownModel | undefined): Promise<void> {
    if (!known || known.ref.source !== this.file) return;
    const st = await this.statFile();
    if (st && sameStamp(st, known.stamp) && (await this.cache.has(known.ref.md5))) {
      this.current = known.ref;
      this.stamp = st;
    }
  }

  /**
   * Returns a newly settled and cached version, or undefined when nothing
   * changed yet. `waitMs` lets the first call wait for a file that is still
   * being written.
   */
  async poll(): Promise<ModelRef | undefined> {
    const st = await this.statFile();
    if (!st) {
      // Being replaced, or gone: results keep the version last seen.
      if (!this.warnedMissing) this.opts.logger?.warn({ model: this.file }, 'model file is missing; results keep the last version seen');
      this.warnedMissing = true;
      return undefined;
    }
    this.warnedMissing = false;
    if (this.stamp && sameStamp(st, this.stamp)) {
      this.candidate = undefined;
      return undefined;
    }
    const now = this.now();
    if (!this.candidate || !sameStamp(this.candidate.stamp, st)) {
      const settledAlready = now - st.mtimeMs >= this.opts.settleMs;
      this.candidate = { stamp: st, since: settledAlready ? now - this.opts.settleMs : now };
    }
    if (now - this.candidate.since < this.opts.settleMs) return undefined;
    let added;
    try {
      added = await this.cache.addFile(this.file);
    } catch (err) {
      if (err instanceof SourceChangedError) {
        this.candidate = undefined;
        return undefined;
      }
      throw err;
    }
    this.candidate = undefined;
    this.stamp = st;
    if (this.current && this.current.md5 === added.md5) return undefined; // touched, same bytes
    this.current = {
      md5: added.md5,
      sha1: added.sha1,
      size: added.size,
      path: this.workspacePath,
      source: this.file,
      framework: this.opts.framework,
      type: this.opts.type,
      name: this.opts.name,
    };
    return this.current;
  }

  /** Time until the pending candidate settles (for --once waiting). */
  get settling(): boolean {
    return this.candidate !== undefined;
  }

  private async statFile(): Promise<ModelFileStamp | undefined> {
    try {
      const st = await fsp.stat(this.file);
      if (!st.isFile()) return undefined;
      return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
    } catch {
      return undefined;
    }
  }
}

function sameStamp(a: ModelFileStamp, b: ModelFileStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

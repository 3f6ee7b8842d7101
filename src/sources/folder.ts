import path from 'node:path';
import { promises as fsp } from 'node:fs';
import type { Logger } from '../log.js';
import type { Observation } from './observation.js';
import { safeName } from './layout.js';
import { nsFromMs } from './timestamp.js';

/** What was recorded of a file: size and mtime, to skip it cheaply on restart. */
export type SeenFiles = Record<string, [size: number, mtimeMs: number]>;

interface Candidate {
  size: number;
  mtimeMs: number;
  since: number;
}

/**
 * A plain results folder (any plugin, not only pywaggle): each regular file
 * becomes a result once it has stopped changing: same size and mtime for
 * `settleMs`. Dot-files and editor temp files are ignored, symbolic links are
 * not followed (a link could point anywhere on the node).
 */
export class FolderSource {
  readonly kind = 'dir';
  private readonly candidates = new Map<string, Candidate>();
  private readonly warnedLinks = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
    private readonly opts: { settleMs: number; exclude: string[]; now?: () => number },
  ) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /**
   * Files that are new or changed since `seen` and have settled. `pending` is
   * how many are still settling (the caller polls again for those).
   */
  async scan(seen: SeenFiles): Promise<{ observations: Observation[]; pending: number }> {
    const now = this.now();
    const observations: Observation[] = [];
    const present = new Set<string>();
    for await (const rel of this.walk('')) {
      const abs = path.join(this.dir, rel);
      let st;
      try {
        st = await fsp.lstat(abs);
      } catch {
        continue; // vanished between readdir and stat
      }
      if (!st.isFile()) continue;
      present.add(rel);
      const prev = seen[rel];
      if (prev && prev[0] === st.size && prev[1] === st.mtimeMs) {
        this.candidates.delete(rel);
        continue;
      }
      const cand = this.candidates.get(rel);
      if (!cand || cand.size !== st.size || cand.mtimeMs !== st.mtimeMs) {
        // Old files (untouched for settleMs) count as settled at once.
        const since = now - st.mtimeMs >= this.opts.settleMs ? now - this.opts.settleMs : now;
        this.candidates.set(rel, { size: st.size, mtimeMs: st.mtimeMs, since });
        if (since > now - this.opts.settleMs) continue;
      } else if (now - cand.since < this.opts.settleMs) {
        continue;
      }
      this.candidates.delete(rel);
      const filename = path.basename(rel);
      observations.push({
        kind: 'file',
        path: abs,
        workspacePath: ['results', ...rel.split(path.sep).map(safeName)].join('/'),
        filename,
        tsNs: nsFromMs(st.mtimeMs),
        tsExact: false,
        meta: {},
        origin: rel,
        size: st.size,
        mtimeMs: st.mtimeMs,
      });
    }
    for (const rel of [...this.candidates.keys()]) if (!present.has(rel)) this.candidates.delete(rel);
    return { observations, pending: this.candidates.size };
  }

  private isExcluded(abs: string): boolean {
    return this.opts.exclude.some((ex) => abs === ex || abs.startsWith(ex + path.sep));
  }

  private async *walk(rel: string): AsyncGenerator<string> {
    let entries;
    try {
      entries = await fsp.readdir(path.join(this.dir, rel), { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        this.logger.warn({ dir: path.join(this.dir, rel), code }, 'cannot read folder; skipping it');
      }
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (ignoredName(e.name)) continue;
      const childRel = rel ? path.join(rel, e.name) : e.name;
      const abs = path.join(this.dir, childRel);
      if (this.isExcluded(abs)) continue;
      if (e.isSymbolicLink()) {
        if (!this.warnedLinks.has(childRel)) {
          this.warnedLinks.add(childRel);
          this.logger.warn({ path: abs }, 'symbolic link in the results folder: not followed');
        }
        continue;
      }
      if (e.isDirectory()) yield* this.walk(childRel);
      else if (e.isFile()) yield childRel;
    }
  }
}

/** Hidden files and the temp files editors and copy tools leave while writing. */
function ignoredName(name: string): boolean {
  return (
    name.startsWith('.') ||
    name.endsWith('~') ||
    /\.(swp|swx|tmp|part|crdownload)$/i.test(name)
  );
}

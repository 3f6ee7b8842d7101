import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { TargetState } from './delivery-state.js';
import { fsDeliveryError } from './errors.js';
import { copyAtomic, fileHasLine, refuseFolder } from './files.js';
import { logdirUploadLine } from './wagglemsg.js';
import type { DeliveryContext, Target } from './target.js';
import { fsyncDir } from '../fsutil/atomic.js';
import { crashPoint } from '../faults.js';

/**
 * Delivery as pywaggle's log-dir mode (PYWAGGLE_LOG_DIR, waggle.md §1.3):
 * the file is copied to `uploads/<ts>-<name>`, then the `upload` line is
 * appended to `data.ndjson` (so a reader of the line always finds the whole
 * file). `watch` skips uploads named `cmf_archive_*`, so it never records
 * its own archives as results.
 *
 * Recovery: prepared → the copy is redone (temp + rename, so never half a
 * file under the final name); copied → the line is appended unless
 * data.ndjson already has it (a crash after the append, before the state
 * write), so the line appears exactly once.
 */
export class LogdirTarget implements Target {
  readonly kind = 'logdir' as const;
  readonly key: string;
  readonly where: string;

  constructor(readonly logdir: string) {
    this.logdir = path.resolve(logdir);
    this.key = `logdir:${this.logdir}`;
    this.where = this.logdir;
  }

  private get ndjson(): string {
    return path.join(this.logdir, 'data.ndjson');
  }

  async preflight(root: string): Promise<void> {
    await refuseFolder('logdir', this.logdir, root);
  }

  async check(): Promise<void> {
    try {
      // pywaggle's Plugin() creates both at construction.
      await fsp.mkdir(path.join(this.logdir, 'uploads'), { recursive: true });
    } catch (err) {
      throw fsDeliveryError(err, `creating ${path.join(this.logdir, 'uploads')}`);
    }
  }

  locationFor(ts: bigint, _sha1: string, archive: string): string {
    return path.join(this.logdir, 'uploads', `${ts}-${archive}`);
  }

  async deliver(ctx: DeliveryContext): Promise<TargetState> {
    let st = ctx.prepared;
    const resumed = st.phase === 'copied';
    if (st.phase === 'prepared') {
      const archive = await ctx.archive();
      try {
        await copyAtomic(archive.file, st.location);
      } catch (err) {
        throw fsDeliveryError(err, `copying the archive to ${path.dirname(st.location)}`);
      }
      st = { ...st, phase: 'copied', stagedAt: new Date().toISOString() };
      await ctx.state.set(this.key, st);
    }
    if (st.phase === 'copied') {
      const line = logdirUploadLine({ filename: st.archive }, BigInt(st.ts), st.location);
      if (!(resumed && (await fileHasLine(this.ndjson, line)))) await this.append(line);
      crashPoint('push.line-appended');
      st = { ...st, phase: 'confirmed', confirmedAt: new Date().toISOString() };
      await ctx.state.set(this.key, st);
    }
    return st;
  }

  /** Append one line with O_APPEND (pywaggle may be appending too), on a line of its own, fsynced. */
  private async append(line: string): Promise<void> {
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(this.ndjson, 'a+');
      const { size } = await fh.stat();
      let prefix = '';
      if (size > 0) {
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, size - 1);
        // A torn last line (a writer killed mid-line) must not swallow ours.
        if (last[0] !== 0x0a) prefix = '\n';
      }
      await fh.write(`${prefix}${line}\n`);
      await fh.sync();
    } catch (err) {
      throw fsDeliveryError(err, `appending to ${this.ndjson}`);
    } finally {
      await fh?.close();
    }
    await fsyncDir(this.logdir);
  }

  async close(): Promise<void> {}
}

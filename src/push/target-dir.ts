import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { TargetState } from './delivery-state.js';
import { fsDeliveryError } from './errors.js';
import { copyAtomic, refuseFolder } from './files.js';
import type { DeliveryContext, Target } from './target.js';

/**
 * `--to dir:PATH`: the archive is copied into a folder (temp + fsync +
 * rename + directory fsync), for a shared disk or a proxy that picks files up
 * itself. Redoing the copy after a crash rewrites the same bytes under the
 * same name.
 */
export class DirTarget implements Target {
  readonly kind = 'dir' as const;
  readonly key: string;
  readonly where: string;

  constructor(readonly dir: string) {
    this.dir = path.resolve(dir);
    this.key = `dir:${this.dir}`;
    this.where = this.dir;
  }

  async preflight(root: string): Promise<void> {
    await refuseFolder(`dir:${this.dir}`, this.dir, root);
  }

  async check(): Promise<void> {
    try {
      await fsp.mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw fsDeliveryError(err, `creating ${this.dir}`);
    }
  }

  locationFor(_ts: bigint, _sha1: string, archive: string): string {
    return path.join(this.dir, archive);
  }

  async deliver(ctx: DeliveryContext): Promise<TargetState> {
    let st = ctx.prepared;
    if (st.phase === 'prepared') {
      const archive = await ctx.archive();
      try {
        await copyAtomic(archive.file, st.location);
      } catch (err) {
        throw fsDeliveryError(err, `copying the archive to ${this.dir}`);
      }
      st = { ...st, phase: 'confirmed', confirmedAt: new Date().toISOString() };
      await ctx.state.set(this.key, st);
    }
    return st;
  }

  async close(): Promise<void> {}
}


import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { fsyncDir, writeFileAtomic } from '../fsutil/atomic.js';
import { crashPoint } from '../faults.js';
import type { TargetState } from './delivery-state.js';
import { AmqpPublisher, type AmqpSettings } from './amqp-publisher.js';
import { DeliveryError, EXIT_UNAVAILABLE, fsDeliveryError } from './errors.js';
import { copyDurably, exists } from './files.js';
import { uploadMessageBody, uploadMetaJson } from './wagglemsg.js';
import type { DeliveryContext, Target } from './target.js';

/**
 * Delivery as pywaggle's `upload_file` on a node (waggle.md §2.1, §7.2):
 * `<upload path>/<ts>-<sha1>/{data,meta}`, then an `upload` message on the
 * node's RabbitMQ. The upload agent rsyncs every folder it finds there to
 * Beehive and deletes it (`--remove-source-files`), so the folder must
 * appear complete or not at all.
 *
 * Staging: the folder is built as `<upload path>/.cmf-sage-staging/<ts>-<sha1>/`
 * and renamed into place in one step. The agent looks for
 * `[<job>/]<task>/<version>/<dir>` where `<dir>` matches the unanchored
 * regex `[0-9]+-[0-9a-f]+` (node-upload-manager main.sh), so a dot-folder
 * named `.tmp-<ts>-<sha1>` would itself be taken; `.cmf-sage-staging` has no
 * digits and sits one level deeper. Compared with pywaggle's `.tmp-data` /
 * `.tmp-meta` renames this also avoids the agent `rmdir`-ing a folder that is
 * still empty, and `meta` being shipped without `data`.
 *
 * Recovery, from delivery.json:
 * - prepared: the staging folder may be partial → rebuild it;
 * - staging: it was complete; if it still exists the rename had not
 *   happened → rename; if not, the rename happened (and the agent may have
 *   shipped the folder already) → nothing to redo;
 * - staged: publish (again); the broker may hold a copy if the earlier
 *   attempt died between publishing and recording the confirm.
 */
export const STAGING_DIR = '.cmf-sage-staging';

export class WaggleTarget implements Target {
  readonly kind = 'waggle' as const;
  readonly key: string;
  readonly where: string;
  private publisher: AmqpPublisher | undefined;

  constructor(
    readonly uploadRoot: string,
    private readonly amqp: AmqpSettings,
  ) {
    this.uploadRoot = path.resolve(uploadRoot);
    this.key = `waggle:${this.uploadRoot}`;
    this.where = `${this.uploadRoot} + amqp://${amqp.host}:${amqp.port} exchange ${amqp.exchange}`;
  }

  async preflight(): Promise<void> {
    await this.check();
  }

  /** Read-only: the node's upload folder and the pod's app id. */
  async check(): Promise<void> {
    const st = await fsp.stat(this.uploadRoot).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new DeliveryError(
        `no upload path: ${this.uploadRoot} does not exist (set WAGGLE_PLUGIN_UPLOAD_PATH to the plugin's upload folder, normally /run/waggle/uploads)`,
        EXIT_UNAVAILABLE,
        false,
      );
    }
    if (!this.amqp.appId) {
      // The node's data service drops a message without app_id: no record, no URL for the archive.
      throw new UserError('WAGGLE_APP_ID is not set: the node drops upload messages without it; run push in the plugin\'s pod (it sets WAGGLE_APP_ID) or export it', 2);
    }
  }

  locationFor(ts: bigint, sha1: string): string {
    return path.join(this.uploadRoot, `${ts}-${sha1}`);
  }

  async deliver(ctx: DeliveryContext): Promise<TargetState> {
    let st = ctx.prepared;
    if (st.phase === 'prepared') st = await this.stage(ctx, st);
    if (st.phase === 'staging') st = await this.finishStaging(ctx, st);
    if (st.phase === 'staged') st = await this.publish(ctx, st);
    return st;
  }

  private stagingPath(st: TargetState): string {
    return path.join(this.uploadRoot, STAGING_DIR, path.basename(st.location));
  }

  private async stage(ctx: DeliveryContext, st: TargetState): Promise<TargetState> {
    const archive = await ctx.archive();
    const staging = this.stagingPath(st);
    try {
      await fsp.rm(staging, { recursive: true, force: true });
      await fsp.mkdir(staging, { recursive: true });
      await copyDurably(archive.file, path.join(staging, 'data'));
      await writeFileAtomic(path.join(staging, 'meta'), uploadMetaJson({ filename: st.archive }, st.sha1, BigInt(st.ts)));
      await fsyncDir(staging);
      await fsyncDir(path.dirname(staging));
    } catch (err) {
      // Nothing under a name the agent takes; drop the partial folder so it does not hold the space.
      await fsp.rm(staging, { recursive: true, force: true }).catch(() => undefined);
      await fsp.rmdir(path.dirname(staging)).catch(() => undefined);
      throw fsDeliveryError(err, `staging the upload in ${this.uploadRoot}`);
    }
    crashPoint('push.staging-written');
    const next: TargetState = { ...st, phase: 'staging' };
    await ctx.state.set(this.key, next);
    return this.finishStaging(ctx, next);
  }

  private async finishStaging(ctx: DeliveryContext, st: TargetState): Promise<TargetState> {
    const staging = this.stagingPath(st);
    if (await exists(staging)) {
      try {
        await fsp.rename(staging, st.location);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw fsDeliveryError(err, `moving the upload into ${this.uploadRoot}`);
        // Already there (same ts, same sha1: same bytes); keep it, drop the copy.
        await fsp.rm(staging, { recursive: true, force: true });
      }
      crashPoint('push.renamed');
      await fsyncDir(this.uploadRoot);
      await fsyncDir(path.dirname(staging));
    }
    await fsp.rmdir(path.dirname(staging)).catch(() => undefined);
    const next: TargetState = { ...st, phase: 'staged', stagedAt: new Date().toISOString() };
    await ctx.state.set(this.key, next);
    return next;
  }

  private async publish(ctx: DeliveryContext, st: TargetState): Promise<TargetState> {
    const ts = BigInt(st.ts);
    const body = Buffer.from(uploadMessageBody({ filename: st.archive }, ts, path.basename(st.location)), 'utf8');
    try {
      this.publisher ??= await AmqpPublisher.connect(this.amqp);
      // Count the hand-over before it happens: publishes > 1 later means the
      // receiver may have seen this message twice (never after a recorded confirm).
      const counted: TargetState = { ...st, publishes: (st.publishes ?? 0) + 1 };
      await ctx.state.set(this.key, counted, 'push.publishing');
      st = counted;
      await this.publisher.publish(body);
    } catch (err) {
      // A broken connection or channel is not reused by the next attempt.
      await this.publisher?.close();
      this.publisher = undefined;
      throw err;
    }
    crashPoint('push.confirm-received');
    const done: TargetState = { ...st, phase: 'confirmed', confirmedAt: new Date().toISOString() };
    await ctx.state.set(this.key, done);
    ctx.logger.info({ segment: ctx.segment.id, upload: path.basename(st.location), archive: st.archive }, 'upload message confirmed by the broker');
    return done;
  }

  async close(): Promise<void> {
    await this.publisher?.close();
    this.publisher = undefined;
  }
}

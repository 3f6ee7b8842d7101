import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { WorkspaceLock } from '../workspace/lock.js';
import { buildArchive, measureArchive, planArchive, type BuiltArchive } from './archive.js';
import { DeliveryState, readDelivery, type TargetState } from './delivery-state.js';
import { DeliveryError } from './errors.js';
import { progressLine } from './progress.js';
import { pruneCache, pruneSegments, removePrunedLeftovers, type KeepCache } from './prune.js';
import { listSealedSegments, type Segment } from './segments.js';
import type { Target } from './target.js';
import { nowNs } from './wagglemsg.js';
import type { SealPreview } from './seal-preview.js';

export interface PushOptions {
  /** Workspace root. */
  root: string;
  target: Target;
  dryRun?: boolean;
  /** Keep at most this many delivered segment folders (default: all). */
  keepSegments?: number;
  keepCache?: KeepCache;
  /** Tries per segment within one run (default 3; waits 1, 2, 4 s between). */
  attempts?: number;
  /** First wait between tries in ms (doubles each time). */
  backoffMs?: number;
  logger: Logger;
  /** Where the percentage line goes (stderr). */
  progressStream?: Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean };
}

export interface SegmentReport {
  segment: string;
  archive: string;
  size?: number;
  sha1?: string;
  executions: number;
  counts: Segment['manifest']['counts'];
  status: 'delivered' | 'would-send' | 'failed' | 'not-attempted';
  /** Where it went (or will go once prepared). */
  location?: string;
  ts?: string;
  /** The broker may have received the message more than once (a crash between publish and the recorded confirm). */
  possibleDuplicate?: boolean;
}

export interface PushSummary {
  target: { kind: string; key: string; where: string };
  dryRun: boolean;
  segments: SegmentReport[];
  delivered: number;
  alreadyDelivered: number;
  pending: number;
  pruned: { segments: string[]; cacheObjects: number; cacheBytes: number };
  /** --dry-run: what a real push would seal into a new segment first (and then deliver). */
  toSeal?: SealPreview;
  error?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface PushResult {
  summary: PushSummary;
  /** Why the run stopped early (also in summary.error); undefined when all went well. */
  failure?: UserError;
}

/**
 * Deliver every sealed segment not yet delivered to `target`, oldest first,
 * each exactly once as far as the receiver can tell (see delivery-state.ts
 * and the targets). Stops at the first segment that cannot be delivered
 * after its attempts, so order is kept; the summary says how far it got and
 * `error` holds the one-line reason.
 */
export async function push(o: PushOptions): Promise<PushResult> {
  const root = path.resolve(o.root);
  const t = o.target;
  const summary: PushSummary = {
    target: { kind: t.kind, key: t.key, where: t.where },
    dryRun: !!o.dryRun,
    segments: [],
    delivered: 0,
    alreadyDelivered: 0,
    pending: 0,
    pruned: { segments: [], cacheObjects: 0, cacheBytes: 0 },
  };
  await requireWorkspace(root);

  if (o.dryRun) return { summary: await dryRun(root, o, summary) };

  const work = path.join(root, '.cmf-sage', 'push');
  try {
    // Archives are rebuilt on demand (deterministic), so nothing left here is needed.
    await fsp.rm(work, { recursive: true, force: true });
    await removePrunedLeftovers(root);
    const segments = await listSealedSegments(root);
    const states = new Map<string, TargetState | undefined>();
    for (const s of segments) states.set(s.id, (await readDelivery(s.dir, s.id)).targets[t.key]);
    const pending = segments.filter((s) => states.get(s.id)?.phase !== 'confirmed');
    summary.alreadyDelivered = segments.length - pending.length;
    summary.pending = pending.length;
    if (pending.length) await t.check();
    let failed: UserError | undefined;
    for (const seg of pending) {
      const report: SegmentReport = {
        segment: seg.id,
        archive: '',
        executions: seg.manifest.executions.length,
        counts: seg.manifest.counts,
        status: 'not-attempted',
      };
      summary.segments.push(report);
      if (failed) continue;
      try {
        const done = await deliverWithRetry(root, seg, o, work, report);
        states.set(seg.id, done);
        report.status = 'delivered';
        summary.delivered++;
        summary.pending--;
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        report.status = 'failed';
        failed = err;
        summary.error = err.message;
      }
    }
    if (!failed) {
      const delivered = (s: Segment) => states.get(s.id)?.phase === 'confirmed';
      const cache = await pruneCache(root, segments[0]?.manifest.mlmdName ?? 'mlmd', segments, delivered, o.keepCache ?? 'model', o.logger);
      summary.pruned.cacheObjects = cache.objects;
      summary.pruned.cacheBytes = cache.bytes;
      if (o.keepSegments !== undefined) summary.pruned.segments = await pruneSegments(root, segments, delivered, o.keepSegments);
    }
    return { summary, failure: failed };
  } finally {
    await t.close();
    await fsp.rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** A cmf-sage workspace is there (else exit 2 naming the folder). */
export async function requireWorkspace(root: string): Promise<void> {
  const st = await fsp.stat(path.join(root, '.cmf-sage')).catch(() => undefined);
  if (!st?.isDirectory()) throw new UserError(`${root} is not a cmf-sage workspace (no .cmf-sage/); pass --workspace or run watch first`, 2);
}

/**
 * Run `fn` (seal, then deliver) as the only push on this workspace. Another
 * push already running is not waited for: it delivers everything sealed,
 * and a cron'd push queueing behind a slow one would only pile up.
 */
export async function withPushLock<T>(root: string, logger: Logger, fn: () => Promise<T>): Promise<T> {
  await requireWorkspace(path.resolve(root));
  const lock = new WorkspaceLock(path.join(path.resolve(root), '.cmf-sage', 'push.lock'), logger);
  await lock.acquire('push', 0, (other) => `another push is running on this workspace (pid ${other.pid}, started ${other.started}); let it finish, then run this one again`);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

async function deliverWithRetry(root: string, seg: Segment, o: PushOptions, work: string, report: SegmentReport): Promise<TargetState> {
  const t = o.target;
  const attempts = Math.max(1, o.attempts ?? 3);
  const state = await DeliveryState.load(seg.dir, seg.id);
  let built: BuiltArchive | undefined;
  const archive = async (): Promise<BuiltArchive> => {
    if (built) return built;
    const plan = await planArchive(root, seg);
    const bar = progressLine(`packaging ${plan.name}`, o.progressStream);
    try {
      built = await buildArchive(plan, work, bar.update);
    } finally {
      bar.end();
    }
    return built;
  };
  for (let attempt = 1; ; attempt++) {
    try {
      const prepared = await prepare(seg, state, t, archive, o.logger);
      report.archive = prepared.archive;
      report.size = prepared.size;
      report.sha1 = prepared.sha1;
      report.ts = prepared.ts;
      report.location = prepared.location;
      const done = await t.deliver({ segment: seg, state, prepared, archive, logger: o.logger });
      report.possibleDuplicate = (done.publishes ?? 0) > 1 || undefined;
      o.logger.info({ segment: seg.id, archive: done.archive, target: t.key, location: done.location }, 'segment delivered');
      if (built) await fsp.rm(built.file, { force: true });
      return done;
    } catch (err) {
      const retry = err instanceof DeliveryError && err.retry && attempt < attempts;
      if (!retry) throw err;
      const wait = (o.backoffMs ?? 1000) * 2 ** (attempt - 1);
      o.logger.warn({ segment: seg.id, attempt, waitMs: wait, err: (err as Error).message }, 'delivery failed; trying again');
      await sleep(wait);
    }
  }
}

/**
 * The first transition: the archive's digest and the upload's timestamp,
 * written before anything becomes visible at the target. A retry finds them
 * and reuses the same ts (so the same upload name and message). Should a
 * rebuild give other bytes before anything was made visible (a library
 * update changed the gzip output), the new digest replaces the old one.
 */
async function prepare(seg: Segment, state: DeliveryState, t: Target, archive: () => Promise<BuiltArchive>, logger: Logger): Promise<TargetState> {
  const existing = state.get(t.key);
  if (existing && existing.phase !== 'prepared') return existing;
  const a = await archive();
  if (existing && existing.sha1 === a.sha1 && existing.archive === a.name) return existing;
  const ts = existing ? BigInt(existing.ts) : nowNs();
  if (existing) logger.warn({ segment: seg.id, was: existing.sha1, now: a.sha1 }, 'the rebuilt archive differs from the prepared one; nothing was delivered yet, using the new one');
  const next: TargetState = {
    phase: 'prepared',
    ts: ts.toString(),
    sha1: a.sha1,
    size: a.size,
    archive: a.name,
    location: t.locationFor(ts, a.sha1, a.name),
    preparedAt: existing?.preparedAt ?? new Date().toISOString(),
  };
  await state.set(t.key, next);
  return next;
}

async function dryRun(root: string, o: PushOptions, summary: PushSummary): Promise<PushSummary> {
  const t = o.target;
  const segments = await listSealedSegments(root);
  for (const seg of segments) {
    const prior = (await readDelivery(seg.dir, seg.id)).targets[t.key];
    if (prior?.phase === 'confirmed') {
      summary.alreadyDelivered++;
      continue;
    }
    const plan = await planArchive(root, seg);
    const d = await measureArchive(plan);
    summary.segments.push({
      segment: seg.id,
      archive: plan.name,
      size: d.size,
      sha1: d.sha1,
      executions: seg.manifest.executions.length,
      counts: seg.manifest.counts,
      status: 'would-send',
      ts: prior?.ts,
      location: prior ? prior.location : t.where,
    });
    summary.pending++;
  }
  return summary;
}

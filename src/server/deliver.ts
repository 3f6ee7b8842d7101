import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Dispatcher } from 'undici';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { writeFileAtomic } from '../fsutil/atomic.js';
import { crashPoint } from '../faults.js';
import { readCmfServerState, stateFile, type CmfServerState } from './state.js';
import type { MlmdStore } from '../mlmd/index.js';
import { remoteObjectUrl } from '../dvc/index.js';
import { loadSegmentMlmd, type SegmentManifest } from '../recorder/segment.js';
import { listSealedSegments } from '../push/segments.js';
import { REMOTE_NAME } from '../git/index.js';
import git from 'isomorphic-git';
import { pushArtifacts, type ArtifactProgress } from './artifacts.js';
import { cmfServerUrl, readDvcRemote, type DvcRemote } from './config.js';
import { pushGit } from './git-push.js';
import { createAgent, safeUrl, type Backoff } from './http.js';
import { pushMetadata, type MetadataStatus } from './metadata.js';
import { dumpToJson } from './payload.js';
import { resolveRemoteToken } from './token.js';

export { cmfServerUrl };

/**
 * Delivery of sealed segments to a cmf-server, in cmf's order: artifacts to
 * the DVC remote (`cmf artifact push`), code to `cmf_origin` (`cmf repo push`,
 * with `git`), metadata to the server (`cmf metadata push`). Each confirmed
 * step is recorded in `<segment>/cmf-server.json` (written atomically)
 * together with where it went; a step is done only for that destination. So
 * a crash anywhere resumes at the first step not recorded, and a repeated step
 * sends nothing the other side has: artifacts already on the remote are
 * skipped, a branch already at HEAD is not pushed, and the server answers
 * `exists` for executions it already merged (by Execution_uuid).
 */

export { STATE_FILE, stateFile, readCmfServerState, type CmfServerState } from './state.js';

export interface DeliveryProgress {
  segment: string;
  step: 'artifacts' | 'git' | 'metadata';
  artifacts?: ArtifactProgress;
}

export interface CmfServerOptions {
  /** The cmf-sage workspace (git repo, `.dvc/`, `.cmfconfig`). */
  workspace: string;
  /** cmf-server base URL (cmfServerUrl() resolves flag, env, .cmfconfig). */
  server: string;
  logger: Logger;
  /** Also push the code to cmf_origin (`cmf repo push`); default false. */
  git?: boolean;
  /** Git remote URL instead of cmf_origin's. */
  gitRemote?: string;
  /** DVC remote instead of the workspace's default one. */
  remote?: DvcRemote;
  /** Bearer token for an HTTP DVC remote; default: token.ts's search. */
  remoteToken?: string;
  /** `--token-file` for the DVC remote token. */
  tokenFile?: string;
  /** Artifact uploads in flight (default 4). */
  concurrency?: number;
  /** cmf-server answer deadline per attempt (default 10 min). */
  timeoutMs?: number;
  /** Upload/git no-progress timeout (default 60 s / 120 s). */
  stallMs?: number;
  /** Further attempts per request (default 5). */
  retries?: number;
  backoff?: Backoff;
  dispatcher?: Dispatcher;
  onProgress?: (p: DeliveryProgress) => void;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

export interface SegmentDeliverySummary {
  segment: string;
  executions: number;
  artifacts: { sent: number; skipped: number; bytes: number } | 'done-before';
  git: { pushed: boolean; head: string; branch: string; unreachable: string[] } | 'done-before' | 'not-requested';
  metadata: MetadataStatus | 'done-before';
  delivered: true;
}

async function readManifest(segmentDir: string): Promise<SegmentManifest> {
  try {
    return JSON.parse(await fsp.readFile(path.join(segmentDir, 'manifest.json'), 'utf8')) as SegmentManifest;
  } catch (err) {
    throw new UserError(`${segmentDir} is not a sealed segment (no readable manifest.json: ${(err as Error).message})`);
  }
}

interface Destinations {
  remote: DvcRemote;
  remoteTo: string;
  token?: string;
  tokenSource?: string;
  gitUrl?: string;
  server: string;
}

async function destinations(o: Omit<CmfServerOptions, 'logger'>): Promise<Destinations> {
  const remote = o.remote ?? (await readDvcRemote(o.workspace));
  let token = o.remoteToken;
  let tokenSource = token ? 'caller' : undefined;
  if (!token && /^https?:\/\//i.test(remote.url)) {
    const found = await resolveRemoteToken({ workspace: o.workspace, tokenFile: o.tokenFile, remote, env: o.env });
    token = found?.token;
    tokenSource = found?.source;
  }
  let gitUrl: string | undefined;
  if (o.git) {
    const dir = path.resolve(o.workspace);
    gitUrl = o.gitRemote ?? ((await git.getConfig({ fs, dir, path: `remote.${REMOTE_NAME}.url` }).catch(() => undefined)) as string | undefined);
    if (!gitUrl) throw new UserError(`--git: the workspace ${dir} has no git remote "${REMOTE_NAME}"; start watch with --git-remote URL`);
  }
  return { remote, remoteTo: safeUrl(remote.url), token, tokenSource, gitUrl, server: o.server.replace(/\/+$/, '') };
}

function isDelivered(s: CmfServerState | undefined, d: Destinations): boolean {
  if (!s) return false;
  return s.steps.artifacts?.to === d.remoteTo && (!d.gitUrl || s.steps.git?.to === safeUrl(d.gitUrl)) && s.steps.metadata?.to === d.server;
}

/** Deliver one sealed segment: artifacts, then code (with `git`), then metadata; resumes after a crash. */
export async function deliverSegmentToCmfServer(segmentDir: string, o: CmfServerOptions): Promise<SegmentDeliverySummary> {
  const d = await destinations(o);
  const own = o.dispatcher ? undefined : createAgent({ connections: Math.max(o.concurrency ?? 4, 2) });
  try {
    return await deliverOne(segmentDir, { ...o, dispatcher: o.dispatcher ?? own }, d);
  } finally {
    await own?.close();
  }
}

async function deliverOne(segmentDir: string, o: CmfServerOptions, d: Destinations): Promise<SegmentDeliverySummary> {
  const manifest = await readManifest(segmentDir);
  const seg = manifest.segment;
  const state: CmfServerState = (await readCmfServerState(segmentDir)) ?? { segment: seg, steps: {} };
  const save = () => writeFileAtomic(stateFile(segmentDir), JSON.stringify(state, null, 1) + '\n');
  const log = o.logger.child({ segment: seg });
  const now = () => new Date().toISOString();

  // 1. artifacts
  let artifacts: SegmentDeliverySummary['artifacts'] = 'done-before';
  if (state.steps.artifacts?.to !== d.remoteTo) {
    o.onProgress?.({ segment: seg, step: 'artifacts' });
    const r = await pushArtifacts({
      workspace: o.workspace,
      objects: manifest.objects ?? [],
      remote: d.remote,
      token: d.token,
      concurrency: o.concurrency,
      logger: log,
      dispatcher: o.dispatcher,
      stallMs: o.stallMs,
      retries: o.retries,
      backoff: o.backoff,
      signal: o.signal,
      onProgress: o.onProgress ? (p) => o.onProgress!({ segment: seg, step: 'artifacts', artifacts: p }) : undefined,
    });
    crashPoint('cmf-server.artifacts');
    state.steps.artifacts = { to: d.remoteTo, at: now(), ...r };
    await save();
    artifacts = r;
  }

  // The segment's own database: commits for the git check, payload for the server.
  const needGit = !!d.gitUrl && state.steps.git?.to !== safeUrl(d.gitUrl);
  const needMeta = state.steps.metadata?.to !== d.server;
  let store: MlmdStore | undefined;
  if (needGit || needMeta) store = await loadSegmentMlmd(segmentDir, 'delivered');
  try {
    // 2. code
    let gitOut: SegmentDeliverySummary['git'] = d.gitUrl ? 'done-before' : 'not-requested';
    if (needGit) {
      o.onProgress?.({ segment: seg, step: 'git' });
      const commits = gitCommits(store!);
      const branch = await branchFor(o.workspace, manifest.mlmdName);
      const r = await pushGit({ workspace: o.workspace, remote: d.gitUrl, branch, requiredCommits: commits, logger: log, dispatcher: o.dispatcher, env: o.env });
      crashPoint('cmf-server.git');
      state.steps.git = { to: safeUrl(d.gitUrl!), at: now(), branch: r.branch, head: r.head, pushed: r.pushed, ...(r.unreachable.length ? { unreachable: r.unreachable } : {}) };
      await save();
      gitOut = { pushed: r.pushed, head: r.head, branch: r.branch, unreachable: r.unreachable };
    }

    // 3. metadata
    let meta: SegmentDeliverySummary['metadata'] = 'done-before';
    if (needMeta) {
      o.onProgress?.({ segment: seg, step: 'metadata' });
      const payload = dumpToJson(store!, manifest.pipeline);
      const status = await pushMetadata({
        server: d.server,
        pipeline: manifest.pipeline,
        payload,
        logger: log,
        dispatcher: o.dispatcher,
        timeoutMs: o.timeoutMs,
        retries: o.retries,
        backoff: o.backoff,
        signal: o.signal,
      });
      crashPoint('cmf-server.metadata');
      state.steps.metadata = { to: d.server, at: now(), status, executions: manifest.executions?.length ?? 0 };
      await save();
      meta = status;
    }
    log.info({ server: d.server, artifacts, git: typeof gitOut === 'string' ? gitOut : gitOut.pushed, metadata: meta }, 'segment delivered to cmf-server');
    return { segment: seg, executions: manifest.executions?.length ?? 0, artifacts, git: gitOut, metadata: meta, delivered: true };
  } finally {
    store?.close();
  }
}

/** Every sealed segment not yet delivered to this server (oldest first), over one connection pool. */
export async function deliverToCmfServer(o: CmfServerOptions): Promise<SegmentDeliverySummary[]> {
  const d = await destinations(o);
  const own = o.dispatcher ? undefined : createAgent({ connections: Math.max(o.concurrency ?? 4, 2) });
  const opts = { ...o, dispatcher: o.dispatcher ?? own };
  const out: SegmentDeliverySummary[] = [];
  try {
    for (const seg of await listSealedSegments(o.workspace)) {
      if (isDelivered(await readCmfServerState(seg.dir), d)) continue;
      out.push(await deliverOne(seg.dir, opts, d));
    }
  } finally {
    await own?.close();
  }
  return out;
}

export interface SegmentDeliveryStatus {
  segment: string;
  executions: number;
  /** All steps recorded for these destinations. */
  delivered: boolean;
  artifacts: { done: boolean; to?: string; at?: string };
  git: { done: boolean; to?: string; at?: string; head?: string };
  metadata: { done: boolean; to?: string; at?: string; status?: MetadataStatus };
}

/** Per segment, which steps are recorded as done for the current destinations (for `status`). */
export async function cmfServerDeliveryStatus(o: Omit<CmfServerOptions, 'logger'>): Promise<SegmentDeliveryStatus[]> {
  const d = await destinations(o);
  const out: SegmentDeliveryStatus[] = [];
  for (const seg of await listSealedSegments(o.workspace)) {
    const s = (await readCmfServerState(seg.dir))?.steps ?? {};
    const a = s.artifacts?.to === d.remoteTo;
    const g = s.git?.to !== undefined && (!d.gitUrl || s.git.to === safeUrl(d.gitUrl));
    const m = s.metadata?.to === d.server;
    out.push({
      segment: seg.manifest.segment,
      executions: seg.manifest.executions?.length ?? 0,
      delivered: a && m && (!d.gitUrl || g),
      artifacts: { done: a, to: s.artifacts?.to, at: s.artifacts?.at },
      git: { done: g, to: s.git?.to, at: s.git?.at, head: s.git?.head },
      metadata: { done: m, to: s.metadata?.to, at: s.metadata?.at, status: s.metadata?.status },
    });
  }
  return out;
}

export interface SegmentPlan {
  segment: string;
  executions: number;
  objects: { md5: string; size: number | null; to: string; done: boolean }[];
  git?: { url: string; branch: string | undefined; commits: string[]; done: boolean };
  metadata: { url: string; pipeline: string; payloadBytes: number; done: boolean };
}

/** `--dry-run`: what would go where, without sending anything (and without asking the remote what it has). */
export async function planCmfServerDelivery(o: Omit<CmfServerOptions, 'logger'>): Promise<SegmentPlan[]> {
  const d = await destinations(o);
  const cache = path.resolve(o.workspace, '.dvc', 'cache', 'files', 'md5');
  const plans: SegmentPlan[] = [];
  for (const seg of await listSealedSegments(o.workspace)) {
    const s = (await readCmfServerState(seg.dir))?.steps ?? {};
    if (isDelivered({ segment: seg.manifest.segment, steps: s }, d)) continue;
    const objects = [];
    for (const md5 of seg.manifest.objects ?? []) {
      const size = await fsp.stat(path.join(cache, md5.slice(0, 2), md5.slice(2))).then((st) => st.size, () => null);
      objects.push({ md5, size, to: safeUrl(remoteObjectUrl(d.remote.url, md5)), done: s.artifacts?.to === d.remoteTo });
    }
    const store = await loadSegmentMlmd(seg.dir, 'delivered');
    try {
      plans.push({
        segment: seg.manifest.segment,
        executions: seg.manifest.executions?.length ?? 0,
        objects,
        git: d.gitUrl
          ? { url: safeUrl(d.gitUrl), branch: await branchFor(o.workspace, seg.manifest.mlmdName), commits: gitCommits(store), done: s.git?.to === safeUrl(d.gitUrl) }
          : undefined,
        metadata: {
          url: `${d.server}/api/mlmd_push`,
          pipeline: seg.manifest.pipeline,
          payloadBytes: Buffer.byteLength(dumpToJson(store, seg.manifest.pipeline)),
          done: s.metadata?.to === d.server,
        },
      });
    } finally {
      store.close();
    }
  }
  return plans;
}

/** The dry-run plan for a person. */
export function formatPlan(plans: SegmentPlan[], sealing = false): string {
  if (plans.length === 0) return sealing ? '' : 'nothing to deliver: every sealed segment (if any) is on the cmf-server\n';
  const lines: string[] = [];
  const mb = (n: number) => `${(n / 1e6).toFixed(n < 1e6 ? 3 : 1)} MB`;
  for (const p of plans) {
    lines.push(`segment ${p.segment} (${p.executions} execution${p.executions === 1 ? '' : 's'})`);
    const todo = p.objects.filter((x) => !x.done);
    const bytes = todo.reduce((a, x) => a + (x.size ?? 0), 0);
    lines.push(`  artifacts: ${todo.length} object(s), ${mb(bytes)}${todo.length < p.objects.length ? ' (already pushed)' : ''}`);
    for (const x of todo) lines.push(`    ${x.md5}  ${x.size === null ? 'MISSING from the cache' : mb(x.size)}  -> ${x.to}`);
    if (p.git) lines.push(`  code: branch ${p.git.branch ?? '(checked out)'} -> ${p.git.url}${p.git.done ? ' (already pushed)' : ''}`);
    lines.push(`  metadata: pipeline ${p.metadata.pipeline}, ${mb(p.metadata.payloadBytes)} -> POST ${p.metadata.url}${p.metadata.done ? ' (already delivered)' : ''}`);
  }
  return lines.join('\n') + '\n';
}

function gitCommits(store: MlmdStore): string[] {
  const rows = store.db.exec(
    "SELECT DISTINCT string_value FROM ExecutionProperty WHERE name IN ('Git_Start_Commit','Git_End_Commit') AND is_custom_property = 0 AND string_value <> ''",
  )[0]?.values ?? [];
  return rows.map((r) => String(r[0]));
}

/** The work branch is named after the mlmd file; fall back to the checked-out branch. */
async function branchFor(workspace: string, mlmdName: string | undefined): Promise<string | undefined> {
  if (!mlmdName) return undefined;
  const ref = path.join(path.resolve(workspace), '.git', 'refs', 'heads', mlmdName);
  const exists = await fsp.stat(ref).then(() => true, () => false);
  if (exists) return mlmdName;
  const all = await git.listBranches({ fs, dir: path.resolve(workspace) }).catch(() => [] as string[]);
  return all.includes(mlmdName) ? mlmdName : undefined;
}

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { readDelivery, type TargetState } from './delivery-state.js';
import { listSegmentSummaries } from '../recorder/segment.js';
import { readCmfServerState, type CmfServerState } from '../server/state.js';

export interface TargetDelivery {
  /** Segments this target has confirmed. */
  delivered: number;
  /** Segments begun for this target but not confirmed. */
  inProgress: number;
  lastConfirmedAt: string | null;
}

export interface PushStatus {
  /** Sealed segment folders kept in the workspace. */
  segmentsKept: number;
  /** Segments delivered to no target yet, oldest first. */
  pending: { segments: string[]; executions: number; bytes: number };
  /** Segments delivered to at least one target. */
  delivered: number;
  /** Delivery state per target (`waggle:…`, `logdir:…`, `dir:…`, `cmf-server:…`). */
  targets: Record<string, TargetDelivery>;
  /** Deliveries begun but not confirmed (a push failed or was killed part way). */
  inProgress: { segment: string; target: string; phase: TargetState['phase'] | CmfServerPhase }[];
  lastDelivery: { segment: string; target: string; archive?: string; location: string; confirmedAt: string } | null;
}

/** How far a cmf-server delivery got: its steps run artifacts → git → metadata. */
type CmfServerPhase = 'artifacts-pushed' | 'git-pushed';

interface Confirmation {
  target: string;
  confirmed: boolean;
  phase?: PushStatus['inProgress'][number]['phase'];
  at?: string;
  archive?: string;
  location?: string;
}

/** The cmf-server delivery as a target: confirmed once the metadata, its last step, is. */
function cmfServerConfirmation(s: CmfServerState): Confirmation | undefined {
  const { artifacts, git, metadata } = s.steps;
  if (metadata) return { target: `cmf-server:${metadata.to}`, confirmed: true, at: metadata.at, location: metadata.to };
  if (git) return { target: 'cmf-server', confirmed: false, phase: 'git-pushed' };
  if (artifacts) return { target: 'cmf-server', confirmed: false, phase: 'artifacts-pushed' };
  return undefined;
}

async function confirmations(dir: string, segment: string): Promise<Confirmation[]> {
  const out: Confirmation[] = [];
  for (const [target, st] of Object.entries((await readDelivery(dir, segment)).targets)) {
    out.push(st.phase === 'confirmed'
      ? { target, confirmed: true, at: st.confirmedAt, archive: st.archive, location: st.location }
      : { target, confirmed: false, phase: st.phase });
  }
  const server = await readCmfServerState(dir);
  const c = server && cmfServerConfirmation(server);
  if (c) out.push(c);
  return out;
}

/**
 * What `status` shows about delivery. Read-only and lock-free: it reads the
 * segment summaries and delivery files, which are only ever replaced
 * atomically. `bytes` is the uncompressed payload still to send (segment
 * mlmd files plus the distinct cache objects each names).
 */
export async function pushStatus(workspaceRoot: string): Promise<PushStatus> {
  const segments = await listSegmentSummaries(workspaceRoot);
  const out: PushStatus = { segmentsKept: segments.length, pending: { segments: [], executions: 0, bytes: 0 }, delivered: 0, targets: {}, inProgress: [], lastDelivery: null };
  for (const seg of segments) {
    let confirmed = false;
    for (const c of await confirmations(seg.dir, seg.segment)) {
      const t = (out.targets[c.target] ??= { delivered: 0, inProgress: 0, lastConfirmedAt: null });
      if (c.confirmed) {
        confirmed = true;
        t.delivered++;
        if (c.at && (!t.lastConfirmedAt || c.at > t.lastConfirmedAt)) t.lastConfirmedAt = c.at;
        if (c.at && (!out.lastDelivery || c.at > out.lastDelivery.confirmedAt)) {
          out.lastDelivery = { segment: seg.segment, target: c.target, archive: c.archive, location: c.location ?? '', confirmedAt: c.at };
        }
      } else {
        t.inProgress++;
        out.inProgress.push({ segment: seg.segment, target: c.target, phase: c.phase! });
      }
    }
    if (confirmed) {
      out.delivered++;
      continue;
    }
    out.pending.segments.push(seg.segment);
    out.pending.executions += seg.counts.executions;
    out.pending.bytes += seg.objectBytes;
    out.pending.bytes += await fsp.stat(path.join(seg.dir, 'mlmd')).then((s) => s.size, () => 0);
  }
  return out;
}

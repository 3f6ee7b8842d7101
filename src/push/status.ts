import { promises as fsp } from 'node:fs';
import { readDelivery, type TargetState } from './delivery-state.js';
import { listSealedSegments, segmentMlmd } from './segments.js';

export interface PushStatus {
  /** Sealed segment folders kept in the workspace. */
  segmentsKept: number;
  /** Segments delivered to no target yet, oldest first. */
  pending: { segments: string[]; executions: number; bytes: number };
  /** Segments delivered to at least one target. */
  delivered: number;
  /** Deliveries begun but not confirmed (a push failed or was killed part way). */
  inProgress: { segment: string; target: string; phase: TargetState['phase'] }[];
  lastDelivery: { segment: string; target: string; archive: string; location: string; confirmedAt: string } | null;
}

/**
 * What `status` shows about delivery. Read-only and lock-free: it reads the
 * segment manifests and delivery files, which are only ever replaced
 * atomically. `bytes` is the uncompressed payload still to send (segment
 * mlmd files plus the distinct cache objects they name).
 */
export async function pushStatus(workspaceRoot: string): Promise<PushStatus> {
  const segments = await listSealedSegments(workspaceRoot);
  const out: PushStatus = { segmentsKept: segments.length, pending: { segments: [], executions: 0, bytes: 0 }, delivered: 0, inProgress: [], lastDelivery: null };
  for (const seg of segments) {
    const d = await readDelivery(seg.dir, seg.id);
    let confirmed = false;
    for (const [target, st] of Object.entries(d.targets)) {
      if (st.phase === 'confirmed') {
        confirmed = true;
        if (st.confirmedAt && (!out.lastDelivery || st.confirmedAt > out.lastDelivery.confirmedAt)) {
          out.lastDelivery = { segment: seg.id, target, archive: st.archive, location: st.location, confirmedAt: st.confirmedAt };
        }
      } else out.inProgress.push({ segment: seg.id, target, phase: st.phase });
    }
    if (confirmed) {
      out.delivered++;
      continue;
    }
    out.pending.segments.push(seg.id);
    out.pending.executions += seg.manifest.executions.length;
    const sizes = new Map<string, number>();
    for (const p of seg.manifest.pointers) sizes.set(p.md5, p.size);
    out.pending.bytes += [...sizes.values()].reduce((a, b) => a + b, 0);
    out.pending.bytes += await fsp.stat(segmentMlmd(seg)).then((s) => s.size, () => 0);
  }
  return out;
}

import { EventType } from '../mlmd/index.js';
import { readMlmdForQuery } from '../query/mlmd-file.js';
import { openSnapshot } from '../query/snapshot.js';
import { closedExecutions } from '../recorder/segment.js';

/** What a push would seal first: closed executions still in the live mlmd, and their results. */
export interface SealPreview {
  executions: number;
  /** Result files and measurements those executions produced. */
  results: number;
}

/**
 * Read-only: what `sealForPush` would move into a new segment before a
 * push delivers, so `push --dry-run` lists it too. The journal is applied
 * in memory, as status does; nothing is written and watch is not asked.
 */
export async function previewSeal(workspace: string): Promise<SealPreview> {
  const snap = await openSnapshot(workspace, undefined, { load: readMlmdForQuery });
  try {
    if (!snap.settings) return { executions: 0, results: 0 };
    const ids = closedExecutions(snap.store, `${snap.settings.pipeline}/${snap.settings.stage}`);
    if (ids.length === 0) return { executions: 0, results: 0 };
    const res = snap.store.db.exec(
      `SELECT count(*) FROM Event o JOIN Artifact a ON a.id = o.artifact_id JOIN Type t ON t.id = a.type_id
        WHERE o.type = ${EventType.OUTPUT} AND o.execution_id IN (${ids.join(',')}) AND t.name IN ('Dataset', 'Metrics')`,
    );
    return { executions: ids.length, results: Number(res[0]?.values[0]?.[0] ?? 0) };
  } finally {
    snap.store.close();
  }
}

/** The dry run's line for it, or none. */
export function formatSealPreview(p: SealPreview | undefined): string[] {
  if (!p || p.executions === 0) return [];
  return [`would first seal ${p.executions} closed execution(s) (${p.results} result(s) and measurement(s)) from the live mlmd into a new segment, and deliver it too`];
}

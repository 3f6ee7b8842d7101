import type { Database } from 'sql.js';
import { EventType } from '../mlmd/index.js';
import type { Snapshot } from './snapshot.js';
import type { PushStatus } from '../push/index.js';
import { printable } from '../util/printable.js';

export interface ModelSummary {
  md5: string;
  path: string;
  results: number;
}

export interface StatusReport {
  workspace: string;
  pipeline: string | null;
  stage: string | null;
  mlmd: string;
  executions: number;
  openExecutions: number;
  artifacts: { Dataset: number; Model: number; Metrics: number };
  models: ModelSummary[];
  lastRecordedAt: string | null;
  journalEntries: number;
  /** Sealed segments on disk (their executions are counted above too). */
  segments: number;
  /** Segment folders whose manifest and summary cannot be read: not counted above, not pushed. */
  unreadableSegments: string[];
}

function rows(db: Database, sql: string, params: (string | number)[] = []): unknown[][] {
  const res = db.exec(sql, params);
  return res.length ? res[0].values : [];
}

function scalar(db: Database, sql: string, params: (string | number)[] = []): number {
  const r = rows(db, sql, params);
  return r.length && r[0][0] !== null ? Number(r[0][0]) : 0;
}

/** What a person (or a script, with --json) wants to know about a workspace. */
export function statusReport(snap: Snapshot): StatusReport {
  const db = snap.store.db;
  const pipeline =
    snap.settings?.pipeline ??
    (rows(db, "SELECT c.name FROM Context c JOIN Type t ON t.id = c.type_id WHERE t.name = 'Parent_Context' ORDER BY c.id LIMIT 1")[0]?.[0] as string | undefined) ??
    null;
  const stage = snap.settings?.stage ?? null;
  const countType = (name: string) =>
    scalar(db, 'SELECT count(*) FROM Artifact a JOIN Type t ON t.id = a.type_id WHERE t.name = ? AND t.type_kind = 1', [name]);
  const stageName = pipeline && stage ? `${pipeline}/${stage}` : null;
  const execWhere = stageName
    ? `e.id IN (SELECT s.execution_id FROM Association s JOIN Context c ON c.id = s.context_id WHERE c.name = ?)`
    : '1';
  const execParams = stageName ? [stageName] : [];
  const executions = scalar(db, `SELECT count(*) FROM Execution e WHERE ${execWhere}`, execParams);
  const openExecutions = scalar(db, `SELECT count(*) FROM Execution e WHERE ${execWhere} AND e.last_known_state = 2`, execParams);
  const models = rows(
    db,
    `SELECT m.uri, m.name,
       (SELECT count(DISTINCT o.artifact_id) FROM Event i
          JOIN Event o ON o.execution_id = i.execution_id AND o.type = ${EventType.OUTPUT}
          JOIN Artifact d ON d.id = o.artifact_id
          JOIN Type dt ON dt.id = d.type_id AND dt.name = 'Dataset'
        WHERE i.artifact_id = m.id AND i.type = ${EventType.INPUT}) AS results
     FROM Artifact m JOIN Type t ON t.id = m.type_id
     WHERE t.name = 'Model' AND t.type_kind = 1
     ORDER BY m.create_time_since_epoch DESC, m.id DESC`,
  ).map(([uri, name, results]) => ({
    md5: String(uri),
    path: String(name).split(':')[0],
    results: Number(results),
  }));
  const last = scalar(db, 'SELECT max(create_time_since_epoch) FROM Artifact');
  // Sealed segments hold the older executions: add their manifests' counts.
  const artifacts = { Dataset: countType('Dataset'), Model: countType('Model'), Metrics: countType('Metrics') };
  let lastIso = last > 0 ? new Date(last).toISOString() : null;
  let allExecutions = executions;
  const byMd5 = new Map(models.map((m) => [m.md5, { ...m }]));
  // Newest segment first, and a segment's versions newest first, so versions
  // only in segments follow the live ones in order of recency.
  for (const m of [...snap.segments].reverse()) {
    allExecutions += m.counts.executions;
    artifacts.Dataset += m.counts.Dataset;
    artifacts.Metrics += m.counts.Metrics;
    for (const mv of [...m.models].reverse()) {
      const cur = byMd5.get(mv.md5);
      if (cur) cur.results += mv.results;
      else byMd5.set(mv.md5, { ...mv });
    }
    if (m.lastRecordedAt && (!lastIso || m.lastRecordedAt > lastIso)) lastIso = m.lastRecordedAt;
  }
  // A model version in several segments is one version.
  artifacts.Model = byMd5.size;
  return {
    workspace: snap.ws.root,
    pipeline,
    stage,
    mlmd: snap.ws.mlmdFile,
    executions: allExecutions,
    openExecutions,
    artifacts,
    models: [...byMd5.values()],
    lastRecordedAt: lastIso,
    journalEntries: snap.journaled,
    segments: snap.segments.length,
    unreadableSegments: snap.unreadableSegments,
  };
}

/** A short table for people. */
export function formatStatus(r: StatusReport & { push?: PushStatus }): string {
  const lines = [
    `workspace   ${r.workspace}`,
    `pipeline    ${printable(r.pipeline ?? '-')}   stage ${printable(r.stage ?? '-')}`,
    `mlmd        ${r.mlmd}`,
    `executions  ${r.executions}${r.openExecutions ? ` (${r.openExecutions} open)` : ''}`,
    `artifacts   Dataset ${r.artifacts.Dataset}   Model ${r.artifacts.Model}   Metrics ${r.artifacts.Metrics}`,
    `recorded    ${r.lastRecordedAt ? `last at ${r.lastRecordedAt}` : 'nothing yet'}`,
  ];
  if (r.journalEntries > 0) lines.push(`journal     ${r.journalEntries} entries not yet checkpointed`);
  if (r.segments > 0) lines.push(`segments    ${r.segments} sealed`);
  if (r.unreadableSegments.length > 0) {
    lines.push(
      `warning     segment folder(s) ${r.unreadableSegments.join(', ')} have no readable manifest.json or summary.json: their lineage is not counted here and push cannot deliver it (exit 70); restore them from a backup, or move them out of .cmf-sage/segments`,
    );
  }
  if (r.push) {
    const p = r.push;
    const last = p.lastDelivery ? `, last ${p.lastDelivery.segment} to ${p.lastDelivery.target} at ${p.lastDelivery.confirmedAt}` : '';
    lines.push(`delivery    ${p.pending.segments.length} segment(s) pending (${p.pending.executions} executions, ${p.pending.bytes} bytes), ${p.delivered} delivered${last}`);
    for (const [target, t] of Object.entries(p.targets)) {
      if (t.delivered > 0) lines.push(`            ${target}: ${t.delivered} delivered, last at ${t.lastConfirmedAt ?? '-'}`);
    }
    for (const x of p.inProgress) lines.push(`            ${x.segment} to ${x.target}: ${x.phase} (not confirmed yet)`);
  }
  lines.push('', 'model versions (newest first):');
  if (r.models.length === 0) {
    lines.push('  (none)');
    return lines.join('\n') + '\n';
  }
  const paths = r.models.map((m) => printable(m.path));
  const w = Math.max(4, ...paths.map((p) => p.length));
  lines.push(`  ${'md5'.padEnd(32)}  ${'path'.padEnd(w)}  results`);
  r.models.forEach((m, i) => lines.push(`  ${printable(m.md5)}  ${paths[i]!.padEnd(w)}  ${m.results}`));
  return lines.join('\n') + '\n';
}

import { isoFromNs } from '../sources/timestamp.js';
import type { LineageReport } from './lineage.js';
import { jsonValue } from './reader.js';
import { printable } from '../util/printable.js';

/** `lineage --json`: one object; ns values are strings (int64 does not fit a JSON number). */
export function lineageJson(rep: LineageReport): Record<string, unknown> {
  return {
    target: rep.target.text,
    target_kind: rep.target.kind,
    chains: rep.links.map((l) => ({
      result: {
        kind: l.row.kind,
        name: l.row.name,
        key: l.row.key,
        timestamp_ns: l.row.timestampNs.toString(),
        time: isoFromNs(l.row.timestampNs),
        md5: l.row.md5,
        sha1: l.row.sha1,
        path: l.row.path,
        value: l.row.value === null ? null : jsonValue(l.row.value),
        missing: l.row.missing,
      },
      execution: {
        uuid: l.execution.uuid,
        type: l.execution.type,
        state: l.execution.state,
        window_start_ns: l.execution.startNs.toString(),
        window_end_ns: l.execution.endNs?.toString() ?? null,
        window_start: isoFromNs(l.execution.startNs),
        window_end: l.execution.endNs === null ? null : isoFromNs(l.execution.endNs),
        window_recorded: l.execution.exactWindow,
        identity: l.execution.identity,
        git: l.execution.git,
        command: l.execution.command,
        source: l.execution.file,
      },
      models: l.models,
      stage: l.stage,
      pipeline: l.pipeline,
    })),
  };
}

export function formatLineage(rep: LineageReport): string {
  const out: string[] = [];
  const p = (s: string | null | undefined, none = '-') => (s === null || s === undefined || s === '' ? none : printable(s));
  for (const [i, l] of rep.links.entries()) {
    if (i) out.push('');
    const r = l.row;
    const e = l.execution;
    out.push(`${r.kind.padEnd(11)} ${p(r.key ?? r.name)}`);
    out.push(`  time       ${isoFromNs(r.timestampNs)}  (${r.timestampNs} ns)`);
    if (r.kind === 'measurement') out.push(`  value      ${r.value === null ? '-' : p(String(r.value.value))}`);
    else out.push(`  md5        ${r.md5 ?? '-'}   sha1 ${r.sha1 ?? '-'}`);
    if (r.path) out.push(`  path       ${p(r.path)}`);
    if (r.missing.length) out.push(`  not recorded: ${r.missing.join(', ')}`);
    out.push(`← execution  ${e.uuid}  ${[e.type, e.state?.toLowerCase()].filter(Boolean).join(', ')}  (in ${e.file})`);
    out.push(`  window     ${isoFromNs(e.startNs)} … ${e.endNs === null ? 'open' : isoFromNs(e.endNs)}${e.exactWindow ? '' : '  (MLMD create/update times)'}`);
    const who = Object.entries(e.identity).map(([k, v]) => `${p(k)}=${p(String(v), '')}`);
    if (who.length) out.push(`  identity   ${who.join('  ')}`);
    out.push(`  git        start ${p(e.git.start)}  end ${p(e.git.end)}${e.git.repo ? `  repo ${p(e.git.repo)}` : ''}`);
    if (l.models.length === 0) out.push('← model      (none recorded as input)');
    for (const m of l.models) out.push(`← model      ${p(m.md5)}  ${p(m.path, '')}`.trimEnd());
    out.push(`← stage      ${p(l.stage)}   pipeline ${p(l.pipeline)}`);
  }
  return out.join('\n') + '\n';
}

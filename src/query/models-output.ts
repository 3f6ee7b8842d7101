import { isoFromNs } from '../sources/timestamp.js';
import type { ModelVersion } from './models.js';
import { formatTable } from './table.js';

/** JSON shape of a model version: ns as strings (int64 would lose digits as JSON numbers). */
export function modelJson(v: ModelVersion): Record<string, unknown> {
  return {
    md5: v.md5,
    path: v.path,
    paths: v.paths,
    source_path: v.sourcePath,
    first_used: v.firstUsedNs === null ? null : isoFromNs(v.firstUsedNs),
    last_used: v.lastUsedNs === null ? null : isoFromNs(v.lastUsedNs),
    first_used_ns: v.firstUsedNs?.toString() ?? null,
    last_used_ns: v.lastUsedNs?.toString() ?? null,
    in_use: v.inUse,
    executions: v.executions,
    results: v.results,
    metrics: v.measurements,
    latest: v.latest,
    previous: v.previous,
  };
}

/** UTC ISO to the second: enough for a person scanning a table. */
export function shortIso(ns: bigint | null): string {
  if (ns === null) return '-';
  return isoFromNs(ns).slice(0, 19) + 'Z';
}

export function formatModels(versions: ModelVersion[]): string {
  if (versions.length === 0) return 'no model versions recorded\n';
  const rows = versions.map((v) => [
    v.md5,
    v.path,
    shortIso(v.firstUsedNs),
    v.inUse ? 'in use' : shortIso(v.lastUsedNs),
    String(v.executions),
    String(v.results),
    String(v.measurements),
    v.latest ? 'latest' : v.previous ? 'previous' : '',
  ]);
  return formatTable(
    [
      { header: 'md5' },
      { header: 'path' },
      { header: 'first used (UTC)' },
      { header: 'last used (UTC)' },
      { header: 'executions', right: true },
      { header: 'results', right: true },
      { header: 'metrics', right: true },
      { header: '' },
    ],
    rows,
  );
}

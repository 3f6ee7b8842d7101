import { isoFromNs } from '../sources/timestamp.js';
import { csvLine } from './csv.js';
import { jsonValue } from './reader.js';
import type { ModelVersion } from './models.js';
import type { ResultFilter, ResultRow } from './results.js';
import { formatTable } from './table.js';

/** Column order of --csv and of each JSON row. */
export const RESULT_COLUMNS = [
  'kind',
  'timestamp_ns',
  'time',
  'name',
  'value',
  'value_type',
  'key',
  'md5',
  'sha1',
  'path',
  'execution_uuid',
  'model_md5',
  'source',
  'missing',
] as const;

function valueText(r: ResultRow): string {
  if (r.value === null) return '';
  return r.value.kind === 'int' ? r.value.value.toString() : String(r.value.value);
}

function cells(r: ResultRow, iso: (ns: bigint) => string = isoFromNs): (string | null)[] {
  return [
    r.kind,
    r.timestampNs.toString(),
    iso(r.timestampNs),
    r.name,
    valueText(r),
    r.value?.kind ?? null,
    r.key,
    r.md5,
    r.sha1,
    r.path,
    r.executionUuid,
    r.modelMd5,
    r.file,
    r.missing.join(' '),
  ];
}

/** RFC 4180 with a header line; `missing` is space-separated. */
export function* resultsCsv(rows: ResultRow[]): Generator<string> {
  yield csvLine(RESULT_COLUMNS);
  const iso = isoCache();
  for (const r of rows) yield csvLine(cells(r, iso));
}

const q = JSON.stringify;

/**
 * isoFromNs with the `YYYY-MM-DDTHH:MM:SS` part reused while rows stay in one
 * second, as consecutive results mostly do (a Date per row is a fifth of the
 * cost of a row).
 */
function isoCache(): (ns: bigint) => string {
  let second = -1n;
  let prefix = '';
  return (ns) => {
    const s = ns / 1_000_000_000n;
    if (s !== second || ns < 0n) {
      second = s;
      prefix = isoFromNs(ns).slice(0, 20); // through the '.'
    }
    return `${prefix}${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
  };
}

/** One row as JSON text, built directly: 100k rows are the hot path of `results --json`. */
function jsonRow(r: ResultRow, iso: (ns: bigint) => string): string {
  const value = r.value === null ? 'null' : q(jsonValue(r.value));
  return (
    `{"kind":"${r.kind}","timestamp_ns":"${r.timestampNs}","time":"${iso(r.timestampNs)}","name":${q(r.name)},` +
    `"value":${value},"value_type":${r.value ? `"${r.value.kind}"` : 'null'},"key":${q(r.key)},"md5":${q(r.md5)},"sha1":${q(r.sha1)},` +
    `"path":${q(r.path)},"execution_uuid":${q(r.executionUuid)},` +
    `"model_md5":${q(r.modelMd5)},"source":${q(r.file)},"missing":${r.missing.length ? q(r.missing) : '[]'}}`
  );
}

export interface ResultsHeader {
  models: ModelVersion[] | null;
  filter: ResultFilter;
  /** The MLMD files read (with --model, only those that can hold the version). */
  sources?: string[];
}

/**
 * One JSON object, one row per line so a 100k-row answer stays greppable.
 * int64 values (ns timestamps) are strings: JSON numbers would round them.
 */
export function* resultsJson(rows: ResultRow[], h: ResultsHeader): Generator<string> {
  const counts = { results: 0, measurements: 0 };
  for (const r of rows) counts[r.kind === 'result' ? 'results' : 'measurements']++;
  const head = {
    ...(h.sources ? { sources: h.sources } : {}),
    models: h.models?.map((m) => ({ md5: m.md5, path: m.path })) ?? null,
    filter: {
      since_ns: h.filter.sinceNs?.toString() ?? null,
      until_ns: h.filter.untilNs?.toString() ?? null,
      name: h.filter.name ?? null,
    },
    count: rows.length,
    counts,
  };
  const top = JSON.stringify(head).slice(0, -1); // reopen the object to stream the rows into it
  yield `${top},"rows":[`;
  let first = true;
  const iso = isoCache();
  for (const r of rows) {
    yield (first ? '\n' : ',\n') + jsonRow(r, iso);
    first = false;
  }
  yield '\n]}\n';
}

/** An aligned table for people, preceded by the model versions it covers. */
export function formatResults(rows: ResultRow[], h: ResultsHeader): string {
  const lines: string[] = [];
  for (const m of h.models ?? []) lines.push(`model ${m.md5}  ${m.path}${m.latest ? '  (latest)' : m.previous ? '  (previous)' : ''}`);
  const nRes = rows.filter((r) => r.kind === 'result').length;
  lines.push(`${nRes} result(s), ${rows.length - nRes} measurement(s)`);
  const missing = [...new Set(rows.flatMap((r) => r.missing))];
  if (missing.length) lines.push(`not recorded in this lineage (shown from MLMD's own times and names instead): ${missing.join(', ')}`);
  lines.push('');
  if (rows.length === 0) return lines.join('\n') + '\n';
  const table = formatTable(
    [
      { header: 'time (UTC)' },
      { header: 'kind' },
      { header: 'name' },
      { header: 'value' },
      { header: 'key' },
      { header: 'md5' },
      { header: 'execution' },
      { header: 'model' },
    ],
    rows.map((r) => [
      isoFromNs(r.timestampNs),
      r.kind,
      r.name,
      valueText(r),
      r.key ?? '-',
      r.md5 ?? '-',
      r.executionUuid.slice(0, 8),
      r.modelMd5?.slice(0, 8) ?? '-',
    ]),
  );
  return lines.join('\n') + '\n' + table;
}

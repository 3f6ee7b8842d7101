import { isoFromNs } from '../sources/timestamp.js';
import { csvLine } from './csv.js';
import { jsonValue } from './reader.js';
import type { ModelVersion } from './models.js';
import type { ResultFilter, ResultRow } from './results.js';
import { formatTable } from './table.js';
import { printable } from '../util/printable.js';
import { TextRows, type RenderedRows } from './text-rows.js';

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

/** RFC 4180 lines, one per row; `missing` is space-separated. */
export function csvRenderer(): (r: ResultRow) => string {
  const iso = isoCache();
  return (r) => csvLine(cells(r, iso));
}

/** Where `results --csv` keeps its rows until they are written. */
export function csvRows(): TextRows {
  return new TextRows(csvRenderer(), '');
}

/** The CSV text: a header line, then the rows `csvRows` kept. */
export function* resultsCsv(rows: RenderedRows): Generator<string | Buffer> {
  yield csvLine(RESULT_COLUMNS);
  yield* rows.buffers();
}

const q = JSON.stringify;

/** Printable ASCII but `"` and `\\`: JSON.stringify would return it quoted, unchanged. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A JSON string (or null); md5s, uuids and keys skip JSON.stringify, a third of a row's cost. */
function str(v: string | null): string {
  if (v === null) return 'null';
  return PLAIN.test(v) ? `"${v}"` : q(v);
}

/**
 * isoFromNs with the `YYYY-MM-DDTHH:MM:SS.` part reused while rows stay in
 * one second, as consecutive results mostly do (a Date per row is a fifth of
 * the cost of a row); the nanoseconds are the last 9 digits of `text`, the
 * timestamp's decimal text, which the caller needs anyway.
 */
function isoCache(): (ns: bigint, text?: string) => string {
  let second = '';
  let prefix = '';
  return (ns, text = ns.toString()) => {
    if (ns < 1_000_000_000n) return isoFromNs(ns); // before 1970-01-01T00:00:01Z: no 9-digit split
    const s = text.slice(0, -9);
    if (s !== second) {
      second = s;
      prefix = isoFromNs(ns).slice(0, 20); // through the '.'
    }
    return `${prefix}${text.slice(-9)}Z`;
  };
}

/**
 * The end of a row's JSON from `execution_uuid` on. Consecutive rows mostly
 * share it (same execution, model and file, nothing missing): it is built
 * once for them.
 */
function tailCache(): (r: ResultRow) => string {
  let last: ResultRow | undefined;
  let tail = '';
  return (r) => {
    if (last === undefined || r.executionUuid !== last.executionUuid || r.modelMd5 !== last.modelMd5 || r.file !== last.file || r.missing !== last.missing) {
      tail = `"execution_uuid":${str(r.executionUuid)},"model_md5":${str(r.modelMd5)},"source":${str(r.file)},"missing":${r.missing.length ? q(r.missing) : '[]'}}`;
    }
    last = r;
    return tail;
  };
}

/** One row as JSON text, built directly: 100k rows are the hot path of `results --json`. */
function jsonRow(r: ResultRow, iso: (ns: bigint, text?: string) => string, tail: (r: ResultRow) => string): string {
  const value = r.value === null ? 'null' : q(jsonValue(r.value));
  const ts = r.timestampNs.toString();
  return (
    `{"kind":"${r.kind}","timestamp_ns":"${ts}","time":"${iso(r.timestampNs, ts)}","name":${str(r.name)},` +
    `"value":${value},"value_type":${r.value ? `"${r.value.kind}"` : 'null'},"key":${str(r.key)},"md5":${str(r.md5)},"sha1":${str(r.sha1)},` +
    `"path":${str(r.path)},${tail(r)}`
  );
}

export interface ResultsHeader {
  models: ModelVersion[] | null;
  filter: ResultFilter;
  /** The MLMD files read (with --model, only those that can hold the version). */
  sources?: string[];
}

/** Rows as JSON text (see resultsJson), counting results and measurements on the way. */
export class JsonRenderer {
  readonly counts = { results: 0, measurements: 0 };
  private readonly iso = isoCache();
  private readonly tail = tailCache();

  readonly render = (r: ResultRow): string => {
    this.counts[r.kind === 'result' ? 'results' : 'measurements']++;
    return jsonRow(r, this.iso, this.tail);
  };

  /** Where `results --json` keeps its rows until they are written (one per line, see resultsJson). */
  rows(): TextRows {
    return new TextRows(this.render, ',\n');
  }
}

/**
 * One JSON object, one row per line so a 100k-row answer stays greppable.
 * int64 values (ns timestamps) are strings: JSON numbers would round them.
 */
export function* resultsJson(rows: RenderedRows, counts: JsonRenderer['counts'], h: ResultsHeader): Generator<string | Buffer> {
  const head = {
    ...(h.sources ? { sources: h.sources } : {}),
    models: h.models?.map((m) => ({ md5: m.md5, path: m.path })) ?? null,
    filter: {
      since_ns: h.filter.sinceNs?.toString() ?? null,
      until_ns: h.filter.untilNs?.toString() ?? null,
      name: h.filter.name ?? null,
    },
    count: rows.count,
    counts,
  };
  const top = JSON.stringify(head).slice(0, -1); // reopen the object to stream the rows into it
  yield `${top},"rows":[${rows.count ? '\n' : ''}`;
  yield* rows.buffers();
  yield '\n]}\n';
}

/** An aligned table for people, preceded by the model versions it covers. */
export function formatResults(rows: ResultRow[], h: ResultsHeader): string {
  const lines: string[] = [];
  for (const m of h.models ?? []) lines.push(`model ${printable(m.md5)}  ${printable(m.path)}${m.latest ? '  (latest)' : m.previous ? '  (previous)' : ''}`);
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

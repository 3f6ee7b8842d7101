import type { Database } from 'sql.js';
import { TypeKind, type Value } from '../mlmd/index.js';
import { Statements, type Param, type Row } from '../mlmd/sqljs.js';
import { valueFromRow } from '../mlmd/value.js';

/** One MLMD file being queried: the live mlmd (journal applied), a kept segment, or a file given with --file. */
export interface LineageFile {
  /** Short name for output, e.g. `mlmd` or `segment 0003`. */
  label: string;
  path: string;
  db: Database;
}

/**
 * Read-only SQL over one MLMD file. Every INTEGER column comes back as a
 * bigint (sql.js's getAsObject would round int64 ns values), and statements
 * are prepared once per SQL text.
 */
export class MlmdReader {
  private readonly q: Statements;
  private readonly types = new Map<string, number[]>();

  constructor(readonly file: LineageFile) {
    this.q = new Statements(file.db);
  }

  get label(): string {
    return this.file.label;
  }

  all(sql: string, params: readonly Param[] = []): Row[] {
    try {
      return this.q.all(sql, params);
    } catch (err) {
      throw new FileReadError(this.file.path, err);
    }
  }

  /**
   * Rows with INTEGER columns as JS numbers: several times faster than all()
   * (sql.js makes each bigint by parsing the column's text). Only for columns
   * that fit in 2^53 (ids, ms times, sizes); select an int64 such as a ns
   * timestamp as `CAST(x AS TEXT)`.
   */
  *fast(sql: string, params: readonly Param[] = []): Generator<Row> {
    let s;
    try {
      s = this.file.db.prepare(sql);
    } catch (err) {
      throw new FileReadError(this.file.path, err);
    }
    try {
      s.bind(params as never);
      for (;;) {
        let row: Row;
        try {
          if (!s.step()) break;
          row = s.get() as Row;
        } catch (err) {
          throw new FileReadError(this.file.path, err);
        }
        yield row;
      }
    } finally {
      s.free();
    }
  }

  one(sql: string, params: readonly Param[] = []): Row | undefined {
    try {
      return this.q.one(sql, params);
    } catch (err) {
      throw new FileReadError(this.file.path, err);
    }
  }

  /**
   * Ids of the types with this name and kind. A file may hold several (one per
   * version); artifacts of any of them count. The Type table (a few dozen
   * rows) is read once per file: a query over dozens of segments would
   * otherwise prepare one statement per type name in each.
   */
  typeIds(kind: TypeKind, name: string): number[] {
    if (this.types.size === 0) {
      for (const [id, typeName, typeKind] of this.all('SELECT id, name, type_kind FROM Type ORDER BY id')) {
        const key = `${Number(typeKind)}:${String(typeName)}`;
        const ids = this.types.get(key);
        if (ids) ids.push(Number(id));
        else this.types.set(key, [Number(id)]);
      }
      this.types.set('', []); // read, even if the table is empty
    }
    return this.types.get(`${kind}:${name}`) ?? [];
  }

  artifactTypeIds(name: string): number[] {
    return this.typeIds(TypeKind.ARTIFACT, name);
  }

  /** Custom (or declared) properties of one node, as typed values. */
  properties(table: 'ArtifactProperty' | 'ExecutionProperty' | 'ContextProperty', id: number, custom: boolean): Map<string, Value> {
    const col = table === 'ArtifactProperty' ? 'artifact_id' : table === 'ExecutionProperty' ? 'execution_id' : 'context_id';
    const out = new Map<string, Value>();
    const rows = this.all(
      `SELECT name, int_value, double_value, string_value, proto_value, bool_value FROM ${table} WHERE ${col} = ? AND is_custom_property = ? ORDER BY name`,
      [id, custom ? 1 : 0],
    );
    for (const [name, i, d, s, p, b] of rows) {
      const v = valueFromRow(i, d, s, p, b);
      if (v !== undefined) out.set(String(name), v);
    }
    return out;
  }

  /** Free the prepared statements (the database itself belongs to whoever opened it). */
  close(): void {
    this.q.freeAll();
  }
}

/** SQLite failed on one file of a query (a damaged page, a missing column): says which file. */
export class FileReadError extends Error {
  constructor(readonly file: string, override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'FileReadError';
  }
}

/** A SQL list of integer ids for `IN (...)`; ids come from the database, never from a person. */
export function idList(ids: Iterable<number>): string {
  const s = [...ids].map((n) => String(Math.trunc(n))).join(',');
  return s || 'NULL';
}

export function textOf(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  return String(v);
}

export function bigOf(v: unknown): bigint | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  return null;
}

export function numOf(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  return Number(v);
}

/** A property value as plain JSON: ints as decimal strings when they exceed 2^53, so nothing is rounded. */
export function jsonValue(v: Value): string | number {
  if (v.kind === 'int') {
    const n = Number(v.value);
    return Number.isSafeInteger(n) ? n : v.value.toString();
  }
  return v.value;
}

/** cmflib names artifacts `<path>:<md5>[:...]`; the path is the first `:` field. */
export function pathOfName(name: string | null): string | null {
  if (name === null) return null;
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(0, i);
}

import { createRequire } from 'node:module';
import type { Database, SqlJsStatic, Statement } from 'sql.js';

// sql.js is CommonJS: require() skips the ESM loader's export scan of its
// large glue file (~12 ms of every command's start).
const initSqlJs = createRequire(import.meta.url)('sql.js') as (config?: object) => Promise<SqlJsStatic>;

let sqlPromise: Promise<SqlJsStatic> | undefined;

/** One initialised sql.js module per process: instantiating the wasm is slow. */
export function getSqlJs(): Promise<SqlJsStatic> {
  sqlPromise ??= initSqlJs()
    // One turn of the event loop before first use. V8 finishes the module's compilation in a task of
    // its own; SQL run before that task made the process wait ~100 ms for background compile work
    // at its next turn, and spend that much more CPU (measured on Node 20: a small query, 40 ms
    // from start with this turn, 110-140 ms without).
    .then((SQL) => new Promise<SqlJsStatic>((resolve) => setImmediate(resolve, SQL)))
    .catch((err: unknown) => {
      sqlPromise = undefined; // let a later call retry
      throw err;
    });
  return sqlPromise;
}

/**
 * What we bind. sql.js binds a bigint as its decimal text, which an
 * INTEGER-affinity column stores as an exact INTEGER; @types/sql.js 1.4 does
 * not know bigint, hence the casts below.
 */
export type Param = number | bigint | string | null;
export type Row = (number | bigint | string | Uint8Array | null)[];

type BigIntGet = (params: null, config: { useBigInt: boolean }) => Row;

/**
 * Prepared statements, compiled once per SQL text. They stay valid across
 * export() in sql.js >= 1.15.2 (the export no longer reopens the connection).
 */
export class Statements {
  private readonly cache = new Map<string, Statement>();
  constructor(readonly db: Database) {}

  private stmt(sql: string): Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  /** Run a statement that returns no rows. */
  run(sql: string, params: readonly Param[]): void {
    const s = this.stmt(sql);
    try {
      s.bind(params as never);
      s.step();
    } finally {
      s.reset();
    }
  }

  /** First row, with INTEGER columns as bigint (exact int64), or undefined. */
  one(sql: string, params: readonly Param[]): Row | undefined {
    const s = this.stmt(sql);
    try {
      s.bind(params as never);
      if (!s.step()) return undefined;
      return (s.get as unknown as BigIntGet).call(s, null, { useBigInt: true });
    } finally {
      s.reset();
    }
  }

  /** All rows, INTEGER columns as bigint. */
  all(sql: string, params: readonly Param[]): Row[] {
    const s = this.stmt(sql);
    const rows: Row[] = [];
    try {
      s.bind(params as never);
      while (s.step()) rows.push((s.get as unknown as BigIntGet).call(s, null, { useBigInt: true }));
    } finally {
      s.reset();
    }
    return rows;
  }

  /** First column of every row as a JS number (ids). */
  ids(sql: string, params: readonly Param[]): number[] {
    return this.all(sql, params).map((r) => Number(r[0]));
  }

  /** The first column of the first row as a number, or undefined. */
  id(sql: string, params: readonly Param[]): number | undefined {
    const r = this.one(sql, params);
    return r === undefined ? undefined : Number(r[0]);
  }

  /** Free every cached statement (before db.close()). */
  freeAll(): void {
    for (const s of this.cache.values()) s.free();
    this.cache.clear();
  }
}

import type { MlmdStore } from '../mlmd/index.js';
import { TypeKind } from '../mlmd/index.js';
import { Statements, type Row } from '../mlmd/sqljs.js';
import { PIPELINE_CONTEXT_TYPE } from '../cmf/names.js';
import { PyFloat, pyDumps, type Py, type PyDict } from './pyjson.js';

/**
 * cmflib's `CmfQuery.dumptojson(pipeline)`: the JSON text `cmf metadata push`
 * sends as `json_payload` and `cmf metadata export` writes (research notes
 * cmf.md §6.2), built from any schema-10 MLMD file (a sealed segment, the
 * live mlmd, a file cmflib made).
 *
 *   {"Pipeline": [pipeline{stages: [stage{executions: [execution{events: [{type, artifact}]}]}]}]}
 *
 * Each node carries the attributes of cmflib's CONTEXT_LIST that are set and
 * not "" (`create_time_since_epoch`, `custom_properties`, `id`,
 * `last_update_time_since_epoch`, `name`, `properties`, `type`, `type_id`,
 * `uri`), in that order after the keys cmflib puts first; executions always
 * have `name`. Property values follow `CmfQuery._copy`: a string if
 * string_value is set, else the int, else the double (so a bool, proto or
 * struct value becomes 0.0); ints are read as bigint (exact int64), doubles
 * stay floats (`1.0`). In custom properties a key `type` becomes `user_type`.
 * Property keys are written in name order (cmflib's order is the protobuf
 * map's, which carries no meaning; the server reads them by name).
 *
 * Doubles are written with the digits of the stored REAL; MLMD itself reads
 * a REAL through SQLite's 15-digit text, so cmflib would send e.g.
 * 0.30000000000000004 as 0.3. Sending the exact value loses nothing.
 */
export function dumpToJson(store: MlmdStore, pipeline: string): string {
  return dumpToJsonMerged([store], pipeline);
}

/**
 * The same payload over several files of one workspace (sealed segments and
 * the live mlmd share ids, since segments are pruned copies): the pipeline
 * from the first file that has it, stages and executions united by id in id
 * order; an execution found in two files is taken from the first.
 */
export function dumpToJsonMerged(stores: MlmdStore[], pipeline: string): string {
  return pyDumps(buildPayload(stores, pipeline));
}

/** Names of all `Parent_Context` contexts (what `cmf metadata push -p` accepts). */
export function pipelineNames(store: MlmdStore): string[] {
  const r = new PayloadReader(store);
  try {
    return r.pipelines().map((p) => p.name);
  } finally {
    r.close();
  }
}

/** The payload as a value tree (for callers that want to count or merge before writing). */
export function buildPayload(stores: MlmdStore[], pipeline: string): PyDict {
  const readers = stores.map((s) => new PayloadReader(s));
  try {
    const found = readers.map((r) => ({ r, ctx: r.pipelines().filter((p) => p.name === pipeline) }));
    const first = found.find((f) => f.ctx.length > 0);
    const pipelines: Py[] = [];
    if (first) {
      // Each pipeline of that name (cmflib emits them all; names are unique in practice).
      for (const ctx of first.ctx) {
        const stageMap = new Map<number, { r: PayloadReader; row: NodeRow; executions: Map<number, PyDict> }>();
        for (const { r, ctx: list } of found) {
          if (!list.some((c) => c.id === ctx.id)) continue;
          for (const st of r.children(ctx.id)) {
            let entry = stageMap.get(st.id);
            if (!entry) stageMap.set(st.id, (entry = { r, row: st, executions: new Map() }));
            for (const ex of r.executions(st.id)) {
              if (!entry.executions.has(ex.id)) entry.executions.set(ex.id, r.execution(ex));
            }
          }
        }
        const stages: Py[] = [...stageMap.entries()]
          .sort((a, b) => a[0] - b[0])
          .map(([, s]) => {
            const execs = [...s.executions.entries()].sort((a, b) => a[0] - b[0]).map(([, e]) => e);
            return s.r.node(s.row, new Map<string, Py>([['executions', execs]]), 'context');
          });
        pipelines.push(first.r.node(ctx, new Map<string, Py>([['stages', stages]]), 'context'));
      }
    }
    return new Map<string, Py>([['Pipeline', pipelines]]);
  } finally {
    for (const r of readers) r.close();
  }
}

interface NodeRow {
  id: number;
  typeId: number;
  typeName: string | undefined;
  name: string;
  uri?: string;
  create: bigint;
  update: bigint;
}

type PropTable = 'ContextProperty' | 'ExecutionProperty' | 'ArtifactProperty';
const ID_COLUMN: Record<PropTable, string> = { ContextProperty: 'context_id', ExecutionProperty: 'execution_id', ArtifactProperty: 'artifact_id' };

/**
 * Reads what the payload needs with a handful of whole-table queries (one per
 * property table, one for events, one for artifacts), not one query per node:
 * a 10,000-result segment is read in a fraction of a second.
 */
class PayloadReader {
  private readonly q: Statements;
  private typeNames?: Map<number, string>;
  private readonly propCache = new Map<PropTable, Map<number, { properties: PyDict; custom: PyDict }>>();
  private eventsByExecution?: Map<number, [bigint, number][]>;
  private artifactRows?: Map<number, Row>;
  private readonly artifacts = new Map<number, PyDict>();

  private readonly db: MlmdStore['db'];

  constructor(store: MlmdStore) {
    this.db = store.db;
    this.q = new Statements(store.db);
  }

  close(): void {
    this.q.freeAll();
  }

  pipelines(): NodeRow[] {
    return this.q
      .all(
        `SELECT c.id, c.type_id, c.name, c.create_time_since_epoch, c.last_update_time_since_epoch
           FROM Context c JOIN Type t ON t.id = c.type_id
          WHERE t.name = ? AND t.type_kind = ${TypeKind.CONTEXT} ORDER BY c.id`,
        [PIPELINE_CONTEXT_TYPE],
      )
      .map((r) => this.contextRow(r));
  }

  children(parentId: number): NodeRow[] {
    return this.q
      .all(
        `SELECT c.id, c.type_id, c.name, c.create_time_since_epoch, c.last_update_time_since_epoch
           FROM ParentContext p JOIN Context c ON c.id = p.context_id
          WHERE p.parent_context_id = ? ORDER BY c.id`,
        [parentId],
      )
      .map((r) => this.contextRow(r));
  }

  executions(contextId: number): NodeRow[] {
    return this.q
      .all(
        `SELECT e.id, e.type_id, e.name, e.create_time_since_epoch, e.last_update_time_since_epoch
           FROM Association a JOIN Execution e ON e.id = a.execution_id
          WHERE a.context_id = ? ORDER BY e.id`,
        [contextId],
      )
      .map((r) => this.contextRow(r));
  }

  /** An execution dict: type, name (always), events, then the CONTEXT_LIST attributes. */
  execution(row: NodeRow): PyDict {
    if (!this.eventsByExecution) {
      this.eventsByExecution = new Map();
      for (const [e, type, a] of this.q.all('SELECT execution_id, type, artifact_id FROM Event ORDER BY execution_id, id', [])) {
        const id = Number(e);
        let list = this.eventsByExecution.get(id);
        if (!list) this.eventsByExecution.set(id, (list = []));
        list.push([toInt(type), Number(a)]);
      }
    }
    const events: Py[] = [];
    for (const [type, artifactId] of this.eventsByExecution.get(row.id) ?? []) {
      const artifact = this.artifact(artifactId);
      if (!artifact) continue; // a dangling event: MLMD would fail the read; leave it out
      events.push(new Map<string, Py>([['type', type], ['artifact', artifact]]));
    }
    const init = new Map<string, Py>([
      ['type', row.typeName ?? ''],
      ['name', row.name],
      ['events', events],
    ]);
    return this.node(row, init, 'execution');
  }

  private artifact(id: number): PyDict | undefined {
    const cached = this.artifacts.get(id);
    if (cached) return cached;
    if (!this.artifactRows) {
      this.artifactRows = new Map();
      for (const r of this.q.all('SELECT id, type_id, name, create_time_since_epoch, last_update_time_since_epoch, uri FROM Artifact', [])) {
        this.artifactRows.set(Number(r[0]), r);
      }
    }
    const r = this.artifactRows.get(id);
    if (!r) return undefined;
    const row = this.contextRow(r);
    row.uri = r[5] === null || r[5] === undefined ? '' : text(r[5]);
    // one dict per artifact, written wherever an event names it
    const dict = this.node(row, new Map<string, Py>([['type', row.typeName ?? '']]), 'artifact');
    this.artifacts.set(id, dict);
    return dict;
  }

  /** cmflib's `_get_node_attributes`: copy the set, non-empty attributes after `init`'s keys. */
  node(row: NodeRow, init: PyDict, kind: 'context' | 'execution' | 'artifact'): PyDict {
    const table: PropTable = kind === 'context' ? 'ContextProperty' : kind === 'execution' ? 'ExecutionProperty' : 'ArtifactProperty';
    const { properties, custom } = this.props(table, row.id);
    const d = init;
    d.set('create_time_since_epoch', row.create);
    d.set('custom_properties', custom);
    d.set('id', BigInt(row.id));
    d.set('last_update_time_since_epoch', row.update);
    if (row.name !== '') d.set('name', row.name);
    d.set('properties', properties);
    if (row.typeName !== undefined && row.typeName !== '') d.set('type', row.typeName);
    d.set('type_id', BigInt(row.typeId));
    if (kind === 'artifact' && row.uri) d.set('uri', row.uri);
    return d;
  }

  private props(table: PropTable, id: number): { properties: PyDict; custom: PyDict } {
    let byId = this.propCache.get(table);
    if (!byId) {
      byId = new Map();
      this.propCache.set(table, byId);
      // The value comes back as one tagged text column (ints as exact decimal text, doubles with
      // 17 significant digits, which read back as the same double): reading bigint cells through
      // sql.js costs twice as much, and every column is a call into wasm.
      const stmt = this.db.prepare(
        `SELECT ${ID_COLUMN[table]}, is_custom_property, name,
                CASE WHEN int_value IS NOT NULL THEN 'i' || CAST(int_value AS TEXT)
                     WHEN double_value IS NOT NULL THEN 'd' || printf('%!.17g', double_value)
                     WHEN string_value IS NOT NULL THEN 's' || string_value
                     ELSE 'n' END
           FROM ${table} ORDER BY ${ID_COLUMN[table]}, is_custom_property, name`,
      );
      try {
        while (stmt.step()) {
          const [nid, isCustom, name, tagged] = stmt.get();
          const key = Number(nid);
          let entry = byId.get(key);
          if (!entry) byId.set(key, (entry = { properties: new Map(), custom: new Map() }));
          const k = text(name);
          const v = taggedValue(String(tagged));
          if (Number(isCustom)) entry.custom.set(k === 'type' ? 'user_type' : k, v);
          else entry.properties.set(k, v);
        }
      } finally {
        stmt.free();
      }
    }
    return byId.get(id) ?? { properties: new Map(), custom: new Map() };
  }

  private contextRow(r: Row): NodeRow {
    const typeId = Number(r[1]);
    return {
      id: Number(r[0]),
      typeId,
      typeName: this.typeName(typeId),
      name: r[2] === null || r[2] === undefined ? '' : text(r[2]),
      create: toInt(r[3] ?? 0n),
      update: toInt(r[4] ?? 0n),
    };
  }

  private typeName(typeId: number): string | undefined {
    if (!this.typeNames) {
      this.typeNames = new Map();
      for (const [id, name] of this.q.all('SELECT id, name FROM Type', [])) this.typeNames.set(Number(id), text(name));
    }
    return this.typeNames.get(typeId);
  }
}

/**
 * MLMD reads the first non-NULL of int, double, string (a `mlmd-struct::`
 * string is a Struct), proto, bool; cmflib's `_copy` then takes string_value
 * if set, else int_value, else double_value, so anything else is 0.0.
 * Here from the tagged text of the property query: `i<int>`, `d<double>`,
 * `s<string>`, `n` (no int, double or string).
 */
function taggedValue(t: string): Py {
  const body = t.slice(1);
  switch (t[0]) {
    case 'i':
      return /^-?\d+$/.test(body) ? BigInt(body) : new PyFloat(Number(body)); // a REAL in an INT column
    case 'd':
      return new PyFloat(/^-?Inf/.test(body) ? (body.startsWith('-') ? -Infinity : Infinity) : Number(body));
    case 's':
      return body.startsWith('mlmd-struct::') ? new PyFloat(0) : body;
    default:
      return new PyFloat(0);
  }
}

function toInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  return 0n;
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  return String(v);
}

/**
 * CmfServerContractDouble: a CONTRACT TEST DOUBLE of cmf-server's
 * `POST /api/mlmd_push`, not cmf-server. The real server (FastAPI + cmflib +
 * Postgres) cannot run on this machine, so this small node HTTP server does
 * what the research notes (shared/research/cmf.md §6.3, §6.4, §10) and the
 * cmflib sources they cite (server/app/main.py `mlmd_push`,
 * server/app/schemas/dataframe.py `MLMDPushRequest`,
 * cmflib/cmf_federation.py `update_mlmd` /
 * `identify_existing_and_new_executions`, cmflib/cmf_merger.py
 * `parse_json_to_mlmd` / `create_original_time_since_epoch` / `handle_*`)
 * say the server does, in the same order and with the same replies:
 *
 * - the request body is parsed the way Starlette/FastAPI does (Python's
 *   json: NaN/Infinity accepted; a non-JSON content type is validated as raw
 *   bytes), then validated as pydantic v2 would validate MLMDPushRequest:
 *   422 `{"detail": [{type, loc, msg, input, ...}]}` for a missing field, a
 *   non-string, an empty pipeline_name (`string_too_short`), and the model
 *   validator's "Value error, …" messages (whitespace pipeline name, empty or
 *   unparsable json_payload); a `null` pipeline_name crashes the validator
 *   (`.strip()` on None) into a plain 500;
 * - `update_mlmd`: no/empty `Pipeline` → 400 `{"detail": "Invalid JSON
 *   payload. The pipeline name is missing."}`; no pipeline of that name →
 *   200 `{"status": "pipeline_not_exist"}`; an execution with `name == ""`
 *   and no `properties.Execution_uuid` → 422 `{"detail": "version_update"}`;
 *   executions any of whose uuids the server already has are dropped, stages
 *   left empty are dropped; nothing left → 200 `{"status": "exists"}`; else
 *   the merge and 200 `{"status": "success"}` (also when the merge logged
 *   errors, which the real server swallows: they are kept in `mergeErrors`
 *   here so tests can see what would have been silently lost). KeyErrors and
 *   AttributeErrors outside the merge's try blocks are a plain 500, as
 *   uvicorn answers an unhandled exception;
 * - the merge keeps what the server would store: executions by uuid with how
 *   often each was merged (the quirk that an execution with k new uuids is
 *   merged k times is kept), artifacts by uri; Metrics names need three
 *   `:`-tokens; unknown artifact types are skipped.
 *
 * Not modelled: Postgres, neo4j, the UI endpoints, the multipart uploads.
 * Faults for tests are queued per mlmd_push request in `faults`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseJson, JsonNumber, JsonSyntaxError, type JsonValue } from '../src/sources/json.js';

export type DoubleFault =
  /** Answer this instead of handling the request (e.g. 500, or 502 with nginx's HTML page). */
  | { kind: 'status'; status: number; body?: string; contentType?: string }
  /** Reset the connection (TCP RST) once this many body bytes arrived. */
  | { kind: 'reset'; afterBytes: number }
  /** Handle the request, then hold the answer back this long (a slow server: the merge happened). */
  | { kind: 'slow-answer'; ms: number }
  /** Wait this long before handling the request at all. */
  | { kind: 'slow-start'; ms: number };

export interface DoubleExecution {
  pipeline: string;
  stage: string;
  uuid: string;
  name: string;
  /** How often the merge created/updated this execution (1 = exactly once). */
  merges: number;
  properties: Record<string, JsonValue>;
  customProperties: Record<string, JsonValue>;
  events: number;
}

export interface DoubleRequest {
  method: string;
  path: string;
  status: number | 'reset';
  bytes: number;
  pipeline?: string;
  reply?: string;
}

type Obj = { [k: string]: JsonValue };

class PyError extends Error {}

export class CmfServerContractDouble {
  readonly faults: DoubleFault[] = [];
  readonly requests: DoubleRequest[] = [];
  /** pipeline → uuid → execution (as the server's get_all_executions_in_pipeline would list it). */
  readonly executions = new Map<string, Map<string, DoubleExecution>>();
  /** uri → artifact the server holds. */
  readonly artifacts = new Map<string, { type: string; name: string; merges: number }>();
  /** What the real server would log and swallow (status still "success"). */
  readonly mergeErrors: string[] = [];
  /** Raw bodies of the mlmd_push requests that arrived whole. */
  readonly bodies: string[] = [];
  /** Payloads that reached the merge, as parsed. */
  readonly merged: Obj[] = [];
  private server?: http.Server;
  url = '';

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = undefined;
  }

  /** Execution uuids the server holds for a pipeline. */
  uuids(pipeline: string): string[] {
    return [...(this.executions.get(pipeline)?.keys() ?? [])];
  }

  /** Executions merged more than once (duplicates on the real server). */
  duplicates(): DoubleExecution[] {
    return [...this.executions.values()].flatMap((m) => [...m.values()]).filter((e) => e.merges > 1);
  }

  pushRequests(): DoubleRequest[] {
    return this.requests.filter((r) => r.path === '/api/mlmd_push');
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const rec: DoubleRequest = { method: req.method ?? '', path, status: 0, bytes: 0 };
    this.requests.push(rec);
    const fault = path === '/api/mlmd_push' && req.method === 'POST' ? this.faults.shift() : undefined;
    const chunks: Buffer[] = [];
    let resetDone = false;
    req.on('data', (c: Buffer) => {
      rec.bytes += c.length;
      chunks.push(c);
      if (fault?.kind === 'reset' && !resetDone && rec.bytes >= fault.afterBytes) {
        resetDone = true;
        rec.status = 'reset';
        req.socket.resetAndDestroy();
      }
    });
    await new Promise<void>((r) => {
      req.on('end', r);
      req.on('close', r);
      req.on('error', () => r());
    });
    if (resetDone) return;
    if (fault?.kind === 'reset') {
      // the body was shorter than the threshold: reset now anyway
      rec.status = 'reset';
      req.socket.resetAndDestroy();
      return;
    }
    const send = (status: number, body: string, type = 'application/json') => {
      rec.status = status;
      rec.reply = body;
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (fault?.kind === 'status') return send(fault.status, fault.body ?? (fault.status === 500 ? 'Internal Server Error' : ''), fault.contentType ?? 'text/plain; charset=utf-8');
    if (fault?.kind === 'slow-start') await new Promise((r) => setTimeout(r, fault.ms));

    const raw = Buffer.concat(chunks);
    if (path === '/api/mlmd_push') this.bodies.push(raw.toString('utf8'));
    const [status, body, type] = this.route(req, path, raw, rec);
    if (fault?.kind === 'slow-answer') await new Promise((r) => setTimeout(r, fault.ms));
    send(status, body, type);
  }

  private route(req: http.IncomingMessage, path: string, raw: Buffer, rec: DoubleRequest): [number, string, string?] {
    if (path === '/api/' || path === '/api') {
      if (req.method === 'GET') return [200, '["cmf-server"]'];
      return [405, '{"detail":"Method Not Allowed"}'];
    }
    if (path !== '/api/mlmd_push') return [404, '{"detail":"Not Found"}'];
    if (req.method !== 'POST') return [405, '{"detail":"Method Not Allowed"}'];
    try {
      return this.mlmdPush(req, raw, rec);
    } catch (err) {
      if (err instanceof PyError) return [500, 'Internal Server Error', 'text/plain; charset=utf-8'];
      throw err;
    }
  }

  /** FastAPI body handling + MLMDPushRequest validation + update_mlmd. */
  private mlmdPush(req: http.IncomingMessage, raw: Buffer, rec: DoubleRequest): [number, string] {
    const ct = req.headers['content-type'];
    let body: JsonValue | undefined;
    let rawBytes = false;
    if (raw.length === 0) body = undefined;
    else if (!ct || /^application\/(?:[\w.+-]*\+)?json\s*(;|$)/i.test(ct)) {
      try {
        body = parseJson(raw.toString('utf8'));
      } catch (err) {
        const pos = err instanceof JsonSyntaxError ? err.position : 0;
        return this.unprocessable([{ type: 'json_invalid', loc: ['body', pos], msg: 'JSON decode error', input: {}, ctx: { error: 'Expecting value' } }]);
      }
    } else {
      body = raw.toString('latin1');
      rawBytes = true;
    }

    if (body === undefined) return this.unprocessable([{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }]);
    if (rawBytes || !isObj(body)) {
      return this.unprocessable([{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: plain(body) }]);
    }
    const b = body as Obj;
    const errors: unknown[] = [];
    const input = plain(b);
    if ('exec_uuid' in b && b.exec_uuid !== null && typeof b.exec_uuid !== 'string') errors.push(stringType('exec_uuid', b.exec_uuid));
    if (!('pipeline_name' in b)) errors.push({ type: 'missing', loc: ['body', 'pipeline_name'], msg: 'Field required', input });
    else if (b.pipeline_name !== null && typeof b.pipeline_name !== 'string') errors.push(stringType('pipeline_name', b.pipeline_name));
    else if (b.pipeline_name === '') {
      errors.push({ type: 'string_too_short', loc: ['body', 'pipeline_name'], msg: 'String should have at least 1 character', input: '', ctx: { min_length: 1 } });
    }
    if (!('json_payload' in b)) errors.push({ type: 'missing', loc: ['body', 'json_payload'], msg: 'Field required', input });
    else if (typeof b.json_payload !== 'string') errors.push(stringType('json_payload', b.json_payload));
    if (errors.length) return this.unprocessable(errors);

    // @model_validator(mode="after")
    if (b.pipeline_name === null) throw new PyError("'NoneType' object has no attribute 'strip'");
    const pipelineName = b.pipeline_name as string;
    const payloadText = b.json_payload as string;
    const valueError = (msg: string) => this.unprocessable([{ type: 'value_error', loc: ['body'], msg: `Value error, ${msg}`, input, ctx: { error: {} } }]);
    if (pyStrip(pipelineName) === '') return valueError('Pipeline name must not be empty or whitespace');
    if (payloadText === '') return valueError('JSON payload must not be empty');
    let mlmdData: JsonValue;
    try {
      mlmdData = parseJson(payloadText);
    } catch {
      return valueError('JSON payload is not valid JSON');
    }
    rec.pipeline = pipelineName;
    const status = this.updateMlmd(mlmdData, pipelineName);
    if (status === 'invalid_json_payload') return [400, '{"detail":"Invalid JSON payload. The pipeline name is missing."}'];
    if (status === 'version_update') return [422, '{"detail":"version_update"}'];
    return [200, JSON.stringify({ status })];
  }

  private unprocessable(detail: unknown[]): [number, string] {
    return [422, JSON.stringify({ detail })];
  }

  /** cmf_federation.update_mlmd(query, json_payload, pipeline_name, "push", exec_uuid=None). */
  private updateMlmd(mlmdData: JsonValue, pipelineName: string): string {
    if (!isObj(mlmdData)) throw new PyError("'list' object has no attribute 'get'");
    const pipelines = 'Pipeline' in mlmdData ? mlmdData.Pipeline : [];
    if (!pyTruthy(pipelines)) return 'invalid_json_payload';
    const list = iterate(pipelines);
    const matching = list.filter((p) => {
      if (!isObj(p)) throw new PyError("object has no attribute 'get'");
      return p.name === pipelineName;
    });
    if (matching.length === 0) return 'pipeline_not_exist';
    const pipeline = matching[0] as Obj;

    // identify_existing_and_new_executions
    const known = new Set(this.uuids(pipelineName));
    const fromReq: string[] = [];
    for (const stage of iterate(key(pipeline, 'stages'))) {
      for (const execution of iterate(key(stage, 'executions'))) {
        if (key(execution, 'name') !== '') continue;
        const props = key(execution, 'properties');
        if (pyContains(props, 'Execution_uuid')) fromReq.push(...pySplit(key(props, 'Execution_uuid')));
        else return 'version_update';
      }
    }
    const exists = new Set(known.size ? fromReq.filter((u) => known.has(u)) : []);

    // drop what the server has (an execution with k uuids, none known, is appended k times)
    for (const stage of iterate(key(pipeline, 'stages')) as Obj[]) {
      const kept: JsonValue[] = [];
      for (const ex of iterate(key(stage, 'executions'))) {
        const uuids = pySplit(key(key(ex, 'properties'), 'Execution_uuid'));
        for (let i = 0; i < uuids.length; i++) if (!uuids.some((u) => exists.has(u))) kept.push(ex);
      }
      stage.executions = kept;
    }
    pipeline.stages = (iterate(pipeline.stages) as Obj[]).filter((s) => (s.executions as JsonValue[]).length > 0);
    if ((pipeline.stages as JsonValue[]).length === 0) return 'exists';
    this.merge(pipeline);
    return 'success';
  }

  /** parse_json_to_mlmd(json.dumps(pipeline), "", "push", None): errors are logged, never returned. */
  private merge(pipeline: Obj): void {
    this.merged.push(pipeline);
    const name = pipeline.name as string;
    try {
      // create_original_time_since_epoch: needs every create_time_since_epoch, or the whole merge stops
      need(pipeline, 'create_time_since_epoch');
      for (const stage of pipeline.stages as Obj[]) {
        need(key(stage, 'custom_properties'), null);
        need(stage, 'create_time_since_epoch');
        for (const ex of iterate(key(stage, 'executions'))) {
          need(key(ex, 'custom_properties'), null);
          need(ex, 'create_time_since_epoch');
          for (const ev of iterate(key(ex, 'events'))) {
            const art = key(ev, 'artifact');
            need(key(art, 'custom_properties'), null);
            need(art, 'create_time_since_epoch');
          }
        }
      }
    } catch (err) {
      this.mergeErrors.push(`[parse_json_to_mlmd] An error occurred in parse_json_to_mlmd: ${(err as Error).message}`);
      return;
    }
    for (const stage of pipeline.stages as Obj[]) {
      for (const ex of stage.executions as Obj[]) {
        try {
          this.mergeExecution(name, stage, ex);
        } catch (err) {
          this.mergeErrors.push(`[process_stage] Error in execution processing: ${(err as Error).message}`);
        }
      }
    }
  }

  private mergeExecution(pipeline: string, stage: Obj, ex: Obj): void {
    // handle_context
    try {
      key(stage, 'name');
      key(stage, 'custom_properties');
    } catch (err) {
      this.mergeErrors.push(`[handle_context] Error in merge_created_context: ${(err as Error).message}`);
    }
    // handle_execution
    let created = false;
    try {
      const props = key(ex, 'properties') as Obj;
      key(props, 'Context_Type');
      key(props, 'Execution');
      const custom = key(ex, 'custom_properties') as Obj;
      const exName = key(ex, 'name');
      const uuids = pySplit(props.Execution_uuid ?? '');
      const byPipeline = this.executions.get(pipeline) ?? new Map<string, DoubleExecution>();
      this.executions.set(pipeline, byPipeline);
      for (const u of uuids) {
        const old = byPipeline.get(u);
        if (old) old.merges++;
        else {
          byPipeline.set(u, {
            pipeline,
            stage: String(stage.name),
            uuid: u,
            name: String(exName),
            merges: 1,
            properties: { ...props },
            customProperties: { ...custom },
            events: iterate(ex.events ?? []).length,
          });
        }
      }
      created = true;
    } catch (err) {
      this.mergeErrors.push(`[handle_execution] Error in merge_created_execution: ${(err as Error).message}`);
    }
    for (const ev of iterate(key(ex, 'events'))) {
      // handle_event reads these before its try: a KeyError reaches process_execution's handler
      const art = key(ev, 'artifact');
      const type = key(art, 'type');
      const evType = key(ev, 'type');
      const artName = key(art, 'name');
      key(art, 'custom_properties');
      key(art, 'properties');
      const uri = key(art, 'uri');
      if (!(evType instanceof JsonNumber) || !evType.isInteger) this.mergeErrors.push(`[handle_event] event type ${String(evType)} is not an int`);
      if (!created) continue;
      if (type === 'Metrics') {
        const tokens = String(artName).split(':');
        if (tokens.length <= 2) {
          this.mergeErrors.push(`[log_execution_metrics_from_client] Error : metrics name ${String(artName)} is not in the correct format`);
          continue;
        }
      } else if (!['Dataset', 'Model', 'Dataslice', 'Step_Metrics', 'Environment', 'Label'].includes(String(type))) {
        continue; // any other type is skipped silently
      }
      const u = String(uri);
      const have = this.artifacts.get(u);
      if (have) have.merges++;
      else this.artifacts.set(u, { type: String(type), name: String(artName), merges: 1 });
    }
  }
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
}

/** `d[k]` in Python: KeyError (a 500 outside try blocks) when missing, TypeError on a non-dict. */
function key(d: JsonValue, k: string): JsonValue {
  if (!isObj(d)) throw new PyError(`'${pyType(d)}' object is not subscriptable by '${k}'`);
  if (!(k in d)) throw new PyError(`KeyError: '${k}'`);
  return d[k]!;
}

function need(d: JsonValue, k: string | null): void {
  if (k === null) {
    if (!isObj(d)) throw new PyError(`'${pyType(d)}' object does not support item assignment`);
    return;
  }
  key(d, k);
}

function iterate(v: JsonValue): JsonValue[] {
  if (Array.isArray(v)) return v;
  if (isObj(v)) return Object.keys(v);
  if (typeof v === 'string') return [...v];
  throw new PyError(`'${pyType(v)}' object is not iterable`);
}

function pyContains(container: JsonValue, item: string): boolean {
  if (isObj(container)) return item in container;
  if (Array.isArray(container)) return container.includes(item);
  if (typeof container === 'string') return container.includes(item);
  throw new PyError(`argument of type '${pyType(container)}' is not iterable`);
}

function pySplit(v: JsonValue): string[] {
  if (typeof v !== 'string') throw new PyError(`'${pyType(v)}' object has no attribute 'split'`);
  return v.split(',');
}

function pyTruthy(v: JsonValue): boolean {
  if (v === null || v === false) return false;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof JsonNumber) return Number(v.raw) !== 0;
  if (isObj(v)) return Object.keys(v).length > 0;
  return true;
}

/** Python's str.strip() with no argument (Unicode white space). */
function pyStrip(s: string): string {
  return s.replace(/^[\s\u001c-\u001f\u0085]+|[\s\u001c-\u001f\u0085]+$/gu, '');
}

function pyType(v: JsonValue): string {
  if (v === null) return 'NoneType';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof JsonNumber) return v.isInteger ? 'int' : 'float';
  if (Array.isArray(v)) return 'list';
  return 'dict';
}

function stringType(field: string, input: JsonValue): unknown {
  return { type: 'string_type', loc: ['body', field], msg: 'Input should be a valid string', input: plain(input) };
}

/** A JsonValue as plain JSON for echoing `input` back. */
function plain(v: unknown): unknown {
  if (v instanceof JsonNumber) return v.isInteger ? Number(v.raw) : v.isFinite ? Number(v.raw) : v.raw;
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

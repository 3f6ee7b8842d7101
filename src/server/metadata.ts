import { request, type Dispatcher } from 'undici';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { pyStr } from './pyjson.js';
import {
  backoffMs,
  createAgent,
  describeNetError,
  formatMs,
  isTransientError,
  isTransientStatus,
  readText,
  safeUrl,
  sleep,
  StallTimer,
  type Backoff,
} from './http.js';

/** Exit codes of the errors below (sysexits.h): the server refused, it could not be reached, it refused our credentials. */
export const EXIT_REJECTED = 76;
export const EXIT_UNREACHABLE = 75;
export const EXIT_DENIED = 77;

export type MetadataStatus = 'success' | 'exists';

export interface PushMetadataOptions {
  /** cmf-server base URL (as in `.cmfconfig` `[cmf] server-url`); the request goes to `<server>/api/mlmd_push`. */
  server: string;
  pipeline: string;
  /** The `dumptojson` text (payload.ts). */
  payload: string;
  /** cmflib sends null (the whole pipeline); a uuid makes the server merge only that execution. */
  execUuid?: string | null;
  dispatcher?: Dispatcher;
  /** Per attempt: the server must answer within this (default 10 min: it merges before it answers). */
  timeoutMs?: number;
  /** Further attempts after the first, for 5xx, 408, 429, resets and timeouts (default 5). */
  retries?: number;
  backoff?: Backoff;
  logger: Logger;
  signal?: AbortSignal;
}

/**
 * `cmf metadata push` without Python: `POST <server>/api/mlmd_push` with
 * `{"exec_uuid": null, "json_payload": "<payload as a string>", "pipeline_name": ...}`
 * (the body `requests.post(json=...)` builds). Resolves with the server's
 * `success` or `exists` (both mean the server has every execution: it drops
 * executions whose Execution_uuid it already knows, so re-sending is safe).
 *
 * Every other answer is a UserError quoting the server: `pipeline_not_exist`,
 * 400 (`Invalid JSON payload…`), 422 (`version_update`, or the body
 * validation errors), 401/403/404. 5xx, 408, 429, connection failures and
 * timeouts are retried with backoff, each attempt a new request with a new
 * body. An attempt that timed out may still have been merged by the server;
 * the retry then answers `exists`.
 */
export async function pushMetadata(o: PushMetadataOptions): Promise<MetadataStatus> {
  const url = `${o.server.replace(/\/+$/, '')}/api/mlmd_push`;
  const shown = safeUrl(url);
  const retries = o.retries ?? 5;
  const timeoutMs = o.timeoutMs ?? 600_000;
  const own = o.dispatcher ? undefined : createAgent({ connections: 1 });
  const dispatcher = o.dispatcher ?? own!;
  // The body as requests.post(json=...) writes it (json.dumps with default separators).
  const bodyText =
    `{"exec_uuid": ${o.execUuid ? pyStr(o.execUuid) : 'null'}, ` +
    `"json_payload": ${pyStr(o.payload)}, "pipeline_name": ${pyStr(o.pipeline)}}`;
  let lastProblem = '';
  try {
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        const delay = backoffMs(attempt, o.backoff);
        o.logger.warn({ url: shown, attempt, of: retries + 1, problem: lastProblem, retryInMs: delay }, 'cmf-server push failed; retrying');
        await sleep(delay, o.signal);
      }
      const timer = new StallTimer(timeoutMs, o.signal);
      let status: number;
      let text: string;
      try {
        // a fresh body for every attempt
        const res = await request(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: Buffer.from(bodyText, 'utf8'),
          dispatcher,
          signal: timer.signal,
        });
        status = res.statusCode;
        text = await readText(res.body);
      } catch (err) {
        const stall = timer.stalled();
        if (o.signal?.aborted) throw err;
        if (!stall && !isTransientError(err)) throw new UserError(`pushing metadata to ${shown} failed: ${describeNetError(err)}`, EXIT_UNREACHABLE);
        lastProblem = stall ? `no answer within ${formatMs(timeoutMs)}` : describeNetError(err);
        if (attempt >= retries) break;
        continue;
      } finally {
        timer.done();
      }
      const outcome = judge(status, text, shown, o.pipeline);
      if (outcome.kind === 'ok') {
        o.logger.info({ url: shown, pipeline: o.pipeline, status: outcome.status, attempts: attempt + 1 }, 'metadata delivered to cmf-server');
        return outcome.status;
      }
      if (outcome.kind === 'fatal') throw outcome.error;
      lastProblem = outcome.problem;
      if (attempt >= retries) break;
    }
  } finally {
    await own?.close();
  }
  throw new UserError(`cmf-server at ${shown} did not take the metadata after ${retries + 1} attempts (last: ${lastProblem}); run push again later, nothing is lost`, EXIT_UNREACHABLE);
}

type Outcome = { kind: 'ok'; status: MetadataStatus } | { kind: 'retry'; problem: string } | { kind: 'fatal'; error: UserError };

function judge(status: number, text: string, url: string, pipeline: string): Outcome {
  const body = parseMaybe(text);
  const words = serverWords(body, text);
  if (status === 200) {
    const s = isObject(body) ? body.status : undefined;
    if (s === 'success' || s === 'exists') return { kind: 'ok', status: s };
    if (s === 'pipeline_not_exist') {
      return fatal(`cmf-server at ${url} answered "pipeline_not_exist": the payload holds no pipeline named "${pipeline}"`);
    }
    return fatal(`cmf-server at ${url} answered ${words || '(empty body)'} instead of "success" or "exists"`);
  }
  if (isTransientStatus(status)) return { kind: 'retry', problem: `HTTP ${status}${words ? ` ${words}` : ''}` };
  if (status === 422 && isObject(body) && body.detail === 'version_update') {
    return fatal(
      `cmf-server at ${url} answered 422 "version_update": it wants an Execution_uuid on every execution (payloads of cmf before 2023-05 lack it); this payload lacks one`,
    );
  }
  if (status === 401 || status === 403) {
    return { kind: 'fatal', error: new UserError(`cmf-server at ${url} refused the request (HTTP ${status}${words ? `: ${words}` : ''}); check the proxy in front of it`, EXIT_DENIED) };
  }
  if (status === 404 || status === 405) {
    return fatal(
      `no cmf-server API at ${url} (HTTP ${status}): give the server's base URL (cmf-sage adds /api/mlmd_push, as cmf does since 2025-10); a server older than that takes /mlmd_push`,
    );
  }
  return fatal(`cmf-server at ${url} rejected the metadata (HTTP ${status}${words ? `: ${words}` : ''})`);
}

function fatal(msg: string): Outcome {
  return { kind: 'fatal', error: new UserError(msg.replace(/[\r\n]+/g, ' '), EXIT_REJECTED) };
}

/** The server's own words: `detail` (a string, or FastAPI's list of validation errors), `status`, else the text. */
function serverWords(body: unknown, text: string): string {
  if (isObject(body)) {
    const d = body.detail;
    if (typeof d === 'string') return JSON.stringify(d);
    if (Array.isArray(d)) {
      return d
        .map((e) => {
          if (!isObject(e)) return JSON.stringify(e);
          const loc = Array.isArray(e.loc) ? e.loc.join('.') : '';
          return `${loc ? `${loc}: ` : ''}${String(e.msg ?? e.type ?? '')}`;
        })
        .join('; ');
    }
    if (typeof body.status === 'string') return JSON.stringify(body.status);
  }
  const t = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

function parseMaybe(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

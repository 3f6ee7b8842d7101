import { Agent, type Dispatcher } from 'undici';

/**
 * What the cmf-server and DVC-remote clients share: one keep-alive agent,
 * a stall timer, backoff, and which failures are worth another attempt.
 *
 * Timeouts are ours, not undici's: undici's header/body timers are coarse
 * (1 s resolution) and its headersTimeout would fire while a large upload is
 * still being written. A request here is aborted when nothing moved (no body
 * chunk taken, no response) for `stallMs`; for small requests that is simply
 * a deadline.
 */

export interface AgentOptions {
  /** Sockets per origin (default 8). */
  connections?: number;
  /** Idle keep-alive sockets are kept this long (default 10 s). */
  keepAliveMs?: number;
  /** TCP/TLS connect timeout (default 10 s). */
  connectTimeoutMs?: number;
}

export function createAgent(o: AgentOptions = {}): Agent {
  return new Agent({
    connections: o.connections ?? 8,
    pipelining: 1,
    keepAliveTimeout: o.keepAliveMs ?? 10_000,
    keepAliveMaxTimeout: 60_000,
    // our stall timer governs; undici's own would cut long uploads short
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: { timeout: o.connectTimeoutMs ?? 10_000 },
  });
}

/** Thrown (as the abort reason) when a request made no progress for too long. */
export class StallTimeout extends Error {
  constructor(readonly ms: number) {
    super(`no progress for ${formatMs(ms)}`);
    this.name = 'StallTimeout';
  }
}

/**
 * An AbortController that fires StallTimeout unless `poke()` is called at
 * least every `ms`; also follows an outer signal. `done()` clears the timer.
 */
export class StallTimer {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onOuter = () => this.controller.abort(this.outer?.reason);

  constructor(private readonly ms: number, private readonly outer?: AbortSignal) {
    if (outer?.aborted) this.controller.abort(outer.reason);
    outer?.addEventListener('abort', this.onOuter, { once: true });
    this.poke();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  poke(): void {
    if (this.timer) this.timer.refresh();
    else if (this.ms > 0) this.timer = setTimeout(() => this.controller.abort(new StallTimeout(this.ms)), this.ms).unref();
  }

  done(): void {
    if (this.timer) clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this.onOuter);
  }

  /** The stall, if that is why the request failed. */
  stalled(): StallTimeout | undefined {
    const r = this.controller.signal.reason;
    return this.controller.signal.aborted && r instanceof StallTimeout ? r : undefined;
  }
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/** A network failure worth another attempt (resets, refused connections, timeouts). */
export function isTransientError(err: unknown): boolean {
  for (let e = err as { code?: string; cause?: unknown; name?: string } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (e instanceof StallTimeout) return true;
    if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
  }
  return false;
}

/** HTTP statuses worth another attempt. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** One short phrase for a network error (for logs and the final error line). */
export function describeNetError(err: unknown): string {
  if (err instanceof StallTimeout) return `timed out (${err.message})`;
  const parts: string[] = [];
  for (let e = err as { code?: string; message?: string; cause?: unknown } | undefined, i = 0; e && i < 4; e = e.cause as typeof e, i++) {
    const m = e.message ?? String(e);
    const code = e.code && !m.includes(e.code) ? ` (${e.code})` : '';
    if (!parts.some((p) => p.startsWith(m))) parts.push(m + code);
  }
  return parts.join(': ').replace(/[\r\n]+/g, ' ') || String(err);
}

export interface Backoff {
  /** First delay (default 500 ms); doubles per attempt. */
  baseMs?: number;
  /** Longest delay (default 30 s). */
  maxMs?: number;
}

/** Delay before retry number `attempt` (1-based): base·2^(attempt-1), capped, with jitter in [50 %, 100 %]. */
export function backoffMs(attempt: number, b: Backoff = {}): number {
  const base = b.baseMs ?? 500;
  const cap = b.maxMs ?? 30_000;
  const d = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(d * (0.5 + Math.random() * 0.5));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Read a response body as text, at most `limit` bytes (the rest is discarded, so the socket is reusable). */
export async function readText(body: Dispatcher.ResponseData['body'], limit = 1 << 20): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    if (n < limit) parts.push(n + b.length > limit ? b.subarray(0, limit - n) : b);
    n += b.length;
  }
  return Buffer.concat(parts).toString('utf8');
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}

/** A URL without user:password, for logs and messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '';
      u.password = '';
    }
    return u.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

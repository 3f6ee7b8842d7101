/**
 * The exact bytes pywaggle writes, built by hand: timestamps are ns integers
 * above 2^53, which a JS number (and so JSON.stringify) would round.
 */

/**
 * A JSON string literal as Python's json.dumps writes it (ensure_ascii=True):
 * everything outside printable ASCII is escaped as \uXXXX, lower-case hex.
 * JSON.stringify already escapes `"`, `\` and control characters the same
 * way; it leaves DEL and non-ASCII as they are, so those are escaped here.
 */
export function pyJsonString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** `{"k":"v",...}` of string values, keys in the given order, compact. */
function stringObject(entries: [string, string][]): string {
  return '{' + entries.map(([k, v]) => `${pyJsonString(k)}:${pyJsonString(v)}`).join(',') + '}';
}

function sortedEntries(o: Record<string, string>): [string, string][] {
  // Python sorts str keys by code point; JS default sort compares UTF-16 units,
  // which differs only above U+FFFF: compare by code points to be exact.
  return Object.entries(o).sort(([a], [b]) => comparePy(a, b));
}

function comparePy(a: string, b: string): number {
  const ca = [...a].map((c) => c.codePointAt(0)!);
  const cb = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) if (ca[i] !== cb[i]) return ca[i] - cb[i];
  return ca.length - cb.length;
}

function checkTs(ts: bigint): string {
  if (ts < 0n) throw new Error(`timestamp must not be negative: ${ts}`);
  return ts.toString();
}

/**
 * The `meta` file of a node upload (pywaggle uploader.py): json.dumps with
 * sort_keys and compact separators, `timestamp` a bare integer.
 * `{"labels":{...,"filename":"x"},"shasum":"<sha1>","timestamp":<ts>}`
 */
export function uploadMetaJson(labels: Record<string, string>, sha1: string, ts: bigint): string {
  return `{"labels":${stringObject(sortedEntries(labels))},"shasum":${pyJsonString(sha1)},"timestamp":${checkTs(ts)}}`;
}

/**
 * The body of the `upload` message (wagglemsg.dump): keys in the order name,
 * ts, meta, val; compact separators; meta keys in insertion order, which for
 * pywaggle's upload_file is the caller's meta then `filename`.
 */
export function uploadMessageBody(meta: Record<string, string>, ts: bigint, val: string): string {
  return `{"name":"upload","ts":${checkTs(ts)},"meta":${stringObject(Object.entries(meta))},"val":${pyJsonString(val)}}`;
}

/**
 * The `upload` line pywaggle's FilesystemPublisher appends to data.ndjson:
 * json.dumps(sort_keys=True, separators=(",", ":")) of meta, name,
 * timestamp (pywaggle's lossy local-time string) and value (absolute path).
 */
export function logdirUploadLine(meta: Record<string, string>, ts: bigint, absPath: string): string {
  return `{"meta":${stringObject(sortedEntries(meta))},"name":"upload","timestamp":${pyJsonString(pywaggleTimestamp(ts))},"value":${pyJsonString(absPath)}}`;
}

/** Python's round() on a double: half to even (C round() is half away from zero). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  if (Math.abs(x - Math.trunc(x)) === 0.5) return 2 * Math.round(x / 2);
  return r;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * pywaggle's run-log timestamp for `ns`:
 * `datetime.fromtimestamp(ns / 1e9).isoformat() + f"{ns % 1000:03d}"`.
 * Reproduced step by step: the int is converted to a double and divided;
 * fromtimestamp splits it with modf and rounds the microseconds half to even
 * (CPython's _PyTime_ROUND_HALF_EVEN), carrying into the seconds; the wall
 * clock is this process's local time (TZ); isoformat() drops the fraction
 * when the microseconds are 0. The result is lossy by design (waggle.md §1.3).
 */
export function pywaggleTimestamp(ns: bigint): string {
  const d = Number(ns) / 1e9;
  let sec = Math.trunc(d);
  let us = roundHalfEven((d - sec) * 1e6);
  if (us >= 1e6) {
    us -= 1e6;
    sec += 1;
  }
  const t = new Date(sec * 1000);
  let s = `${pad(t.getFullYear(), 4)}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  if (us !== 0) s += '.' + pad(us, 6);
  return s + (ns % 1000n).toString().padStart(3, '0');
}

/** Now, in ns since the epoch (wall clock, ms resolution plus the monotonic clock's sub-ms digits). */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}

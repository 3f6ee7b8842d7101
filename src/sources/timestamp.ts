/**
 * Timestamps in pywaggle output.
 *
 * The exact nanosecond time of an upload is the `<ns>-` prefix of its file
 * name. The `timestamp` string in data.ndjson is lossy: local wall-clock time
 * with no zone, microseconds rounded through a float, the last three ns digits
 * glued on, and the fraction dropped when the microseconds are zero
 * (e.g. `2026-12-03T15:34:40000`). We recover exact times as follows:
 * - learn the wall-clock offset from upload lines, which carry both forms;
 * - convert a measurement's string with that offset;
 * - snap it to an upload time within a few microseconds that has the same last
 *   three digits (pywaggle plugins stamp a measurement with the time of the
 *   frame it was computed from), which makes it exact;
 * - else redo pywaggle's rounding for the two times the string can stand for
 *   (its microseconds as written, or one less when they were rounded up):
 *   when only one of them prints as the string, it is the exact time (about
 *   9 strings in 10; the others stay marked inexact).
 */

/** pywaggle refuses timestamps before this (Plugin.publish). */
export const MIN_TIMESTAMP_NS = 946706400000000000n;

const NS_PER_MS = 1_000_000n;
const QUARTER_HOUR_NS = 900n * 1_000_000_000n;
/** float rounding of the microsecond digits is at most ~1 µs; allow a margin. */
const SNAP_WINDOW_NS = 5_000n;

export interface UploadName {
  ts: bigint;
  filename: string;
}

/** Split `<ts_ns>-<filename>` as pywaggle names its upload copies. */
export function parseUploadName(name: string): UploadName | undefined {
  const m = /^(\d{18,20})-(.+)$/s.exec(name);
  if (!m) return undefined;
  const ts = BigInt(m[1]);
  if (ts < MIN_TIMESTAMP_NS) return undefined;
  return { ts, filename: m[2] };
}

const TS_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{6}))?(\d{3})$/;

/**
 * The wall-clock reading of a pywaggle timestamp string as if it were UTC, in
 * ns. Returns undefined for anything that is not pywaggle's shape.
 */
export function parseWallClockNs(text: string): bigint | undefined {
  const m = TS_RE.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, micro, nano] = m;
  const ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
  if (Number.isNaN(ms)) return undefined;
  // Date.UTC accepts out-of-range fields by rolling over; reject those.
  const back = new Date(ms);
  if (back.getUTCMonth() !== +mo - 1 || back.getUTCDate() !== +d || back.getUTCHours() !== +h) return undefined;
  return BigInt(ms) * NS_PER_MS + BigInt(micro ?? '0') * 1000n + BigInt(nano);
}

/** Nearest multiple of 15 minutes (every real UTC offset is one). */
function roundToQuarterHour(ns: bigint): bigint {
  const half = QUARTER_HOUR_NS / 2n;
  const q = (ns >= 0n ? ns + half : ns - half) / QUARTER_HOUR_NS;
  return q * QUARTER_HOUR_NS;
}

function absBig(v: bigint): bigint {
  return v < 0n ? -v : v;
}

export interface ResolvedTime {
  ns: bigint;
  /** true when the ns value is known exactly (from a file name or a snap). */
  exact: boolean;
}

/** Converts pywaggle timestamp strings to exact ns, learning as it reads. */
export class TimestampResolver {
  /** wall-clock minus UTC, in ns; undefined until learned or guessed. */
  private offsetNs: bigint | undefined;
  private readonly recent: bigint[] = [];

  constructor(private readonly maxRecent = 4096) {}

  /** Feed an upload line: its exact time and its string. */
  learnUpload(exactNs: bigint, text: string | undefined): void {
    if (text !== undefined) {
      const wall = parseWallClockNs(text);
      if (wall !== undefined) this.offsetNs = roundToQuarterHour(wall - exactNs);
    }
    this.recent.push(exactNs);
    if (this.recent.length > this.maxRecent) this.recent.splice(0, this.recent.length - this.maxRecent);
  }

  /** Best ns for a measurement line's timestamp string. */
  resolve(text: string): ResolvedTime | undefined {
    const wall = parseWallClockNs(text);
    if (wall === undefined) return undefined;
    const offset = this.offsetNs ?? localOffsetNs(wall);
    const approx = wall - offset;
    const last3 = approx % 1000n;
    for (let k = this.recent.length - 1; k >= 0; k--) {
      const u = this.recent[k];
      if (u % 1000n === last3 && absBig(u - approx) <= SNAP_WINDOW_NS) return { ns: u, exact: true };
    }
    const fits = [approx, approx - 1000n].filter((ns) => pywaggleWallClockNs(ns, offset) === wall);
    if (fits.length === 1) return { ns: fits[0]!, exact: true };
    // Both print the same (~1 in 10: a double's rounding near half a microsecond decides): take
    // the one exact arithmetic would round to the string, and say it is not exact.
    return { ns: last3 >= 500n ? approx - 1000n : approx, exact: false };
  }
}

/**
 * What pywaggle writes for `ns` (as parseWallClockNs reads it back):
 * `datetime.fromtimestamp(ns / 1e9).isoformat() + f"{ns % 1000:03d}"` with
 * the wall clock `offsetNs` ahead of UTC. Python turns `ns` into a double,
 * divides by 1e9 (JS arithmetic is the same IEEE double arithmetic), and
 * CPython rounds the fraction's microseconds half to even.
 */
export function pywaggleWallClockNs(ns: bigint, offsetNs: bigint): bigint {
  const t = Number(ns) / 1e9;
  let sec = Math.floor(t);
  let us = roundHalfEven((t - sec) * 1e6); // t - sec is exact, as C's modf
  if (us >= 1e6) {
    us -= 1e6;
    sec += 1;
  }
  return BigInt(sec) * 1_000_000_000n + BigInt(us) * 1000n + (((ns % 1000n) + 1000n) % 1000n) + offsetNs;
}

function roundHalfEven(x: number): number {
  const t = Math.floor(x);
  const d = x - t;
  if (d !== 0.5) return d < 0.5 ? t : t + 1;
  return t % 2 === 0 ? t : t + 1;
}

/** This process's local-time offset at that moment, as a fallback. */
function localOffsetNs(wallNs: bigint): bigint {
  const ms = Number(wallNs / NS_PER_MS);
  return BigInt(-new Date(ms).getTimezoneOffset()) * 60n * 1_000_000_000n;
}

/** ns since epoch → UTC ISO 8601 with nanoseconds, e.g. 2026-12-03T15:34:40.879783945Z */
export function isoFromNs(ns: bigint): string {
  const ms = ns / NS_PER_MS;
  const base = new Date(Number(ms)).toISOString(); // ...SS.mmmZ
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${base.slice(0, 19)}.${frac}Z`;
}

export function nsFromMs(ms: number): bigint {
  return BigInt(Math.trunc(ms)) * NS_PER_MS;
}

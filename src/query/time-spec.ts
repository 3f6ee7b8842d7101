/**
 * Time arguments of `results --since/--until`, in the forms the Sage data
 * API accepts for its `start`/`end` plus exact nanoseconds:
 *
 * - ISO 8601: `2026-12-03`, `2026-12-03T15:34`, `2026-12-03T15:34:40.879783945Z`,
 *   `2026-12-03 15:34:40+02:00`, and the reduced forms `2026-12` and `2026`
 *   (the start of that month or year); without a zone the time is UTC (as
 *   Sage's are);
 * - a bare integer of 18 digits or more (or 0): ns since the epoch (the
 *   `<ts_ns>` of an upload name); four digits are a year, as a person typing
 *   `--since 2026` means, and other lengths (epoch seconds, ms) are refused;
 * - relative to now: `-30s`, `-15m`, `-2h`, `-7d` (also `-1.5h`, `-2w`).
 *
 * Everything is bigint ns so an upload's exact time survives a round trip;
 * times before 1970 or beyond int64 are refused.
 */

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;
const UNIT_NS: Record<string, bigint> = {
  s: NS_PER_S,
  m: 60n * NS_PER_S,
  h: 3600n * NS_PER_S,
  d: 86_400n * NS_PER_S,
  w: 7n * 86_400n * NS_PER_S,
};

const RELATIVE_RE = /^-(\d+)(?:\.(\d{1,9}))?(s|m|h|d|w)$/;
const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;
/** ISO 8601's reduced precision: a year, or a year and month (UTC). */
const YEAR_MONTH_RE = /^(\d{4})(?:-(\d{2}))?$/;

export class TimeSpecError extends Error {}

/** The time `text` names, in ns since the epoch. Throws TimeSpecError with a message for a person. */
export function parseTimeSpec(text: string, nowNs: bigint): bigint {
  const ns = parse(text.trim(), nowNs);
  if (ns === undefined) throw notATime(text);
  if (ns < 0n) throw new TimeSpecError(`"${text}" is before 1970; times start at the epoch`);
  if (ns > INT64_MAX) throw new TimeSpecError(`"${text}" is beyond the 64-bit nanosecond range (after the year 2262)`);
  return ns;
}

const INT64_MAX = (1n << 63n) - 1n;
/** Digits of an epoch time in coarser units today, and the zeros that make it ns. */
const SCALED: Record<number, [string, string]> = { 10: ['seconds', '000000000'], 13: ['milliseconds', '000000'], 16: ['microseconds', '000'] };

function parse(t: string, nowNs: bigint): bigint | undefined {
  const ym = YEAR_MONTH_RE.exec(t);
  if (ym) return isoNs(t, [ym[1]!, ym[2] ?? '01', '01']);
  if (/^\d+$/.test(t)) {
    // Epoch nanoseconds have 19 digits today; 10, 13 or 16 are seconds, ms or µs typed by mistake.
    if (t.length >= 18 || /^0+$/.test(t)) return BigInt(t);
    const scaled = SCALED[t.length];
    throw new TimeSpecError(
      `"${t}" is too short for epoch nanoseconds (19 digits, e.g. 1796312080879783945)${scaled ? `; for epoch ${scaled[0]} write ${t}${scaled[1]}` : ''}`,
    );
  }
  const rel = RELATIVE_RE.exec(t);
  if (rel) return nowNs - relativeNs(rel[1]!, rel[2] ?? '', rel[3]!);
  const iso = ISO_RE.exec(t);
  if (iso) return isoNs(t, iso.slice(1));
  return undefined;
}

function notATime(text: string): TimeSpecError {
  return new TimeSpecError(
    `"${text}" is not a time: use ISO 8601 (2026-12-03T15:34:40Z, 2026-12-03 or 2026-12; no zone means UTC), epoch nanoseconds (1796312080879783945) or a relative time (-30s, -15m, -2h, -7d)`,
  );
}

function relativeNs(whole: string, frac: string, unit: string): bigint {
  const per = UNIT_NS[unit];
  const fracNs = frac ? (BigInt(frac.padEnd(9, '0')) * per) / NS_PER_S : 0n;
  return BigInt(whole) * per + fracNs;
}

/** Year, month, day[, hour, minute, second, fraction, zone] as written (missing parts: undefined). */
function isoNs(text: string, parts: (string | undefined)[]): bigint {
  const [y = '', mo = '', d = '', h = '00', mi = '00', s = '00', frac = '', zone] = parts;
  const ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
  // Date.UTC rolls 2026-02-31 over to March; a person meant something else.
  const back = new Date(ms);
  if (
    Number.isNaN(ms) ||
    back.getUTCFullYear() !== +y ||
    back.getUTCMonth() !== +mo - 1 ||
    back.getUTCDate() !== +d ||
    back.getUTCHours() !== +h ||
    back.getUTCMinutes() !== +mi ||
    back.getUTCSeconds() !== +s
  ) {
    throw new TimeSpecError(`"${text}" is not a valid date and time`);
  }
  return BigInt(ms) * NS_PER_MS + BigInt(frac.padEnd(9, '0') || '0') - zoneOffsetNs(zone);
}

/** A zone's offset east of UTC: local time minus UTC. */
function zoneOffsetNs(zone: string | undefined): bigint {
  if (!zone || zone === 'Z' || zone === 'z') return 0n;
  const sign = zone.startsWith('-') ? -1n : 1n;
  const digits = zone.slice(1).replace(':', '');
  const hours = BigInt(digits.slice(0, 2));
  const minutes = BigInt(digits.slice(2) || '0');
  return sign * (hours * 60n + minutes) * 60n * NS_PER_S;
}

/** ns since the epoch now, from the wall clock (passed in everywhere else, for tests). */
export function nowNs(): bigint {
  return BigInt(Date.now()) * NS_PER_MS;
}

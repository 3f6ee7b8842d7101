/**
 * Crash injection for the durability tests. With
 * `CMF_SAGE_CRASH_AT=<point>[:<n>]` the process kills itself with SIGKILL
 * (exactly like `kill -9`) the n-th time (default 1) it reaches `<point>`.
 * Unset, every call is a single comparison. The points mark the moments
 * between the steps of the write path where a crash is most damaging.
 */
const spec = process.env.CMF_SAGE_CRASH_AT;
const [target, nth] = spec ? spec.split(':') : [undefined, undefined];
const wanted = nth ? Number(nth) : 1;
let reached = 0;

export function crashPoint(point: string): void {
  if (crashDue(point)) crashNow();
}

/**
 * Counts a pass through `point`; true when this pass is the armed one (lets a
 * caller leave a torn write behind before calling crashNow).
 */
export function crashDue(point: string): boolean {
  if (target === undefined || point !== target) return false;
  reached++;
  return reached === wanted;
}

export function crashNow(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

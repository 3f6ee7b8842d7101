/**
 * The time order of rows that are kept elsewhere, from their ns timestamps.
 * The times live in typed arrays rather than as one bigint per row: 100k
 * heap bigints would be traced and copied by every collection while the
 * answer is gathered.
 *
 * Rows come in a few ascending runs (a file's rows are in time order; the
 * live mlmd, read first, holds the newest), so the order is found by merging
 * those runs, and two runs that do not overlap are merged without comparing
 * their rows.
 */
export class TimeOrder {
  /** Number(ns): orders any two rows whose times differ by more than its rounding. */
  private approx = new Float64Array(1024);
  /** The exact times, read only to break a tie of `approx`. */
  private exact = new BigInt64Array(1024);
  private n = 0;
  private last: bigint | undefined;
  /** Where each ascending run of pushed times starts. */
  private readonly runs: number[] = [0];

  get length(): number {
    return this.n;
  }

  push(ns: bigint): void {
    if (this.n === this.approx.length) {
      const approx = new Float64Array(this.n * 2);
      approx.set(this.approx);
      const exact = new BigInt64Array(this.n * 2);
      exact.set(this.exact);
      [this.approx, this.exact] = [approx, exact];
    }
    if (this.last !== undefined && ns < this.last) this.runs.push(this.n);
    this.approx[this.n] = Number(ns);
    this.exact[this.n] = ns;
    this.n++;
    this.last = ns;
  }

  /**
   * Row numbers oldest first, rows of the same time in the order they were
   * pushed; null when they were pushed in that order already.
   */
  order(): Uint32Array | null {
    if (this.runs.length === 1) return null;
    const { approx, exact, n } = this;
    const less = (a: number, b: number) => approx[a]! < approx[b]! || (approx[a] === approx[b] && exact[a]! < exact[b]!);
    let idx = new Uint32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    let tmp = new Uint32Array(n);
    // Merge neighbouring runs pairwise until one is left; a left run's rows were pushed first, so
    // taking the right one's row only when strictly earlier keeps equal times in pushing order.
    let bounds = [...this.runs, n];
    while (bounds.length > 2) {
      const next = [0];
      for (let r = 0; r + 1 < bounds.length; r += 2) {
        const lo = bounds[r]!;
        const mid = bounds[r + 1]!;
        const hi = bounds[r + 2] ?? mid;
        if (hi === mid || !less(idx[mid]!, idx[mid - 1]!)) {
          tmp.set(idx.subarray(lo, hi), lo); // already in order
        } else if (less(idx[hi - 1]!, idx[lo]!)) {
          tmp.set(idx.subarray(mid, hi), lo); // the right run wholly before the left one
          tmp.set(idx.subarray(lo, mid), lo + hi - mid);
        } else {
          let i = lo;
          let j = mid;
          let k = lo;
          while (i < mid && j < hi) tmp[k++] = less(idx[j]!, idx[i]!) ? idx[j++]! : idx[i++]!;
          while (i < mid) tmp[k++] = idx[i++]!;
          while (j < hi) tmp[k++] = idx[j++]!;
        }
        next.push(hi);
      }
      [idx, tmp] = [tmp, idx];
      bounds = next;
    }
    return idx;
  }
}

import type { ResultRow, RowStore } from './results.js';

const CHUNK = 1 << 20;
/** Rows encoded together (~30 KB of JSON). */
const BATCH = 64;
/** Rows next to each other in storage over this many bytes are written from where they are kept. */
const LONG_RUN = 64 << 10;

/** Rendered rows in time order, as buffers ready for stdout. */
export interface RenderedRows {
  readonly count: number;
  /** The rows' bytes, `between` the rows (not before the first), in pieces of about a MiB. */
  buffers(): Generator<Buffer>;
}

/**
 * Rows rendered as text (JSON or CSV lines) as they are read, kept as UTF-8
 * in a few large buffers until they can be written in time order. Kept as
 * 100k strings instead, they cost a sixth of `results --json`'s time in
 * garbage collection (each string copied and marked again as the answer
 * grew); the row text itself is short-lived, and read in time order (as
 * it mostly is) the buffers are written as they stand.
 */
export class TextRows implements RowStore<RenderedRows> {
  private readonly chunks: Buffer[] = [];
  /** Bytes used in each chunk. */
  private readonly used: number[] = [];
  private cur = Buffer.alloc(0);
  private pos = 0;
  /** Per row: chunk number, start, end. */
  private where = new Uint32Array(3 * 1024);
  private n = 0;
  /** Rows rendered but not yet written (see flush). */
  private pending: string[] = [];

  /**
   * `between` goes between two rows: each row is stored with it in front,
   * so rows in reading order are one run of bytes. It must be ASCII (the
   * first row's is skipped by its length in bytes).
   */
  constructor(
    private readonly render: (row: ResultRow) => string,
    private readonly between: string,
  ) {}

  add(row: ResultRow): void {
    const text = this.between + this.render(row);
    this.pending.push(text);
    if (this.pending.length === BATCH) this.flush();
  }

  /**
   * Writes the pending rows as one string: one encoding call per batch
   * instead of per row (each call costs more than encoding a row). When
   * every character took one byte (ASCII, as rows nearly always are), the
   * rows' bounds are their lengths; else they are written again one by one.
   */
  private flush(): void {
    const rows = this.pending;
    if (rows.length === 0) return;
    this.pending = [];
    const joined = rows.join('');
    // UTF-8 takes at most 3 bytes per UTF-16 unit; measure exactly only near the end of a chunk.
    const room = this.cur.length - this.pos;
    if (this.chunks.length === 0 || (room < joined.length * 3 && room < Buffer.byteLength(joined))) {
      this.newChunk(Math.max(CHUNK, Buffer.byteLength(joined)));
    }
    const chunk = this.chunks.length - 1;
    let at = this.pos;
    const ascii = this.cur.write(joined, at) === joined.length;
    for (const r of rows) {
      const bytes = ascii ? r.length : this.cur.write(r, at);
      this.record(chunk, at, at + bytes);
      at += bytes;
    }
    this.pos = at;
    this.used[chunk] = at;
  }

  private record(chunk: number, start: number, end: number): void {
    if (3 * this.n === this.where.length) {
      const where = new Uint32Array(this.where.length * 2);
      where.set(this.where);
      this.where = where;
    }
    const i = 3 * this.n++;
    this.where[i] = chunk;
    this.where[i + 1] = start;
    this.where[i + 2] = end;
  }

  private newChunk(size: number): void {
    this.cur = Buffer.allocUnsafe(size); // only the written part is ever read
    this.pos = 0;
    this.chunks.push(this.cur);
    this.used.push(0);
  }

  finish(order: Uint32Array | null): RenderedRows {
    this.flush();
    const { chunks, used, where, n } = this;
    const skip = this.between.length;
    return {
      count: n,
      *buffers() {
        if (n === 0) return;
        if (order === null) {
          // Read in time order: the chunks are the answer as they stand.
          for (let c = 0; c < chunks.length; c++) {
            const from = c === 0 ? skip : 0;
            if (used[c]! > from) yield chunks[c]!.subarray(from, used[c]);
          }
          return;
        }
        let out = Buffer.allocUnsafe(CHUNK);
        let o = 0;
        // Rows next to each other in storage are copied as one piece (a file's rows mostly are).
        for (let k = 0; k < order.length; ) {
          const first = 3 * order[k]!;
          const chunk = where[first]!;
          const start = where[first + 1]! + (k === 0 ? skip : 0);
          let end = where[first + 2]!;
          for (k++; k < order.length; k++) {
            const i = 3 * order[k]!;
            if (where[i] !== chunk || where[i + 1] !== end) break;
            end = where[i + 2]!;
          }
          if (end - start >= LONG_RUN) {
            // As it stands: a copy would cost more in page faults of fresh memory than the copying.
            if (o > 0) yield out.subarray(0, o);
            yield chunks[chunk]!.subarray(start, end);
            out = out.subarray(o);
            o = 0;
            continue;
          }
          for (let from = start; from < end; ) {
            if (o === out.length) {
              if (o > 0) yield out;
              out = Buffer.allocUnsafe(CHUNK);
              o = 0;
            }
            const n = chunks[chunk]!.copy(out, o, from, end); // as much as fits
            o += n;
            from += n;
          }
        }
        if (o > 0) yield out.subarray(0, o);
      },
    };
  }
}

import { promises as fsp } from 'node:fs';
import { createHash } from 'node:crypto';

/**
 * Where a reader stopped in an append-only line file. The offset is only
 * meaningful for the same file: `dev`/`ino` and a hash of the first bytes tie
 * it to the file's identity, so a truncated, rotated or re-created file is read
 * from the start instead of from a stale offset (a classic tail bug).
 */
export interface TailCursor {
  dev: number;
  ino: number;
  /** sha1 of the first `headLen` bytes when the cursor was taken. */
  head: string;
  headLen: number;
  /** byte offset just after the last complete line consumed. */
  offset: number;
  /**
   * sha1 of the bytes just before `offset`, and the file's birth time: a file
   * deleted and re-created can get the same inode and the same first line,
   * but not the same bytes at the cursor.
   */
  tail?: string;
  birth?: number;
  /** 1-based number of the last line consumed. */
  line: number;
}

export interface TailLine {
  /** 1-based line number in the file. */
  line: number;
  /** raw bytes of the line without the newline. */
  bytes: Buffer;
  /** offset just after this line's newline. */
  end: number;
}

export interface TailRead {
  lines: TailLine[];
  /** true when reading stopped at a limit before the end of the file. */
  more: boolean;
  /** cursor after the last returned line (commit it once they are recorded). */
  cursor: TailCursor;
  /** true when the file was found truncated or replaced and read from 0. */
  reset: boolean;
  /** lines longer than the limit that were skipped (line numbers). */
  skippedLong: number[];
}

const HEAD_BYTES = 64;
const CHUNK = 1 << 20;

async function rangeHash(fh: fsp.FileHandle, start: number, len: number): Promise<string> {
  const buf = Buffer.alloc(len);
  const { bytesRead } = await fh.read(buf, 0, len, start);
  return createHash('sha1').update(buf.subarray(0, bytesRead)).digest('hex');
}

const headHash = (fh: fsp.FileHandle, len: number) => rangeHash(fh, 0, len);

function tailRange(offset: number): [number, number] {
  const len = Math.min(HEAD_BYTES, offset);
  return [offset - len, len];
}

/**
 * Read every complete line after `cursor`. A trailing fragment without a
 * newline is left for the next read (the writer may still be writing it).
 * Reads at most `maxBytes` per call so a huge backlog is processed in steps.
 */
export async function readNewLines(
  file: string,
  cursor: TailCursor | undefined,
  opts: { maxLineBytes?: number; maxBytes?: number; maxLines?: number } = {},
): Promise<TailRead | undefined> {
  const maxLine = opts.maxLineBytes ?? 16 << 20;
  const maxBytes = opts.maxBytes ?? 64 << 20;
  const maxLines = opts.maxLines ?? Infinity;
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const st = await fh.stat();
    let offset = 0;
    let line = 0;
    let reset = false;
    if (cursor) {
      const sameFile =
        cursor.dev === st.dev &&
        cursor.ino === st.ino &&
        st.size >= cursor.offset &&
        (cursor.birth === undefined || cursor.birth === st.birthtimeMs);
      const sameHead = sameFile && (await headHash(fh, cursor.headLen)) === cursor.head;
      const sameTail = sameHead && (cursor.tail === undefined || (await rangeHash(fh, ...tailRange(cursor.offset))) === cursor.tail);
      if (sameFile && sameHead && sameTail) {
        offset = cursor.offset;
        line = cursor.line;
      } else {
        reset = true;
      }
    }
    const lines: TailLine[] = [];
    const skippedLong: number[] = [];
    let pending: Buffer[] = [];
    let pendingLen = 0;
    let tooLong = false;
    let pos = offset;
    let consumed = offset;
    const limit = Math.min(st.size, offset + maxBytes);
    const buf = Buffer.allocUnsafe(CHUNK);
    while (pos < st.size) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, st.size - pos), pos);
      if (bytesRead === 0) break;
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, start);
        if (nl < 0 || nl >= bytesRead) break;
        const piece = buf.subarray(start, nl);
        line++;
        if (tooLong || pendingLen + piece.length > maxLine) {
          skippedLong.push(line);
        } else {
          const bytes = pending.length ? Buffer.concat([...pending, piece]) : Buffer.from(piece);
          lines.push({ line, bytes, end: pos + nl + 1 });
        }
        pending = [];
        pendingLen = 0;
        tooLong = false;
        start = nl + 1;
        consumed = pos + nl + 1;
        if (lines.length >= maxLines) break;
      }
      if (lines.length >= maxLines) break;
      if (start < bytesRead) {
        const rest = buf.subarray(start, bytesRead);
        if (!tooLong) {
          if (pendingLen + rest.length > maxLine) {
            tooLong = true;
            pending = [];
            pendingLen = 0;
          } else {
            pending.push(Buffer.from(rest));
            pendingLen += rest.length;
          }
        }
      }
      pos += bytesRead;
      if (consumed >= limit && pos >= limit) break;
    }
    const headLen = Math.min(HEAD_BYTES, Math.max(consumed, cursor && !reset ? cursor.headLen : 0));
    const next: TailCursor = {
      dev: st.dev,
      ino: st.ino,
      headLen,
      head: await headHash(fh, headLen),
      offset: consumed,
      line,
      tail: await rangeHash(fh, ...tailRange(consumed)),
      birth: st.birthtimeMs,
    };
    return { lines, cursor: next, reset, skippedLong, more: consumed < st.size && (lines.length >= maxLines || consumed >= limit) };
  } finally {
    await fh.close();
  }
}

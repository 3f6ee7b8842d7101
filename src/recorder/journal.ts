import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Entry } from './entries.js';
import { fsyncDir, writeFileAtomic } from '../fsutil/atomic.js';
import { crashDue, crashNow, crashPoint } from '../faults.js';

/**
 * Append-only journal of entries, one JSON line each. `append` returns once
 * the lines are fsynced: that is the moment a result counts as recorded.
 * Many entries share one fsync (group commit), which is what makes the
 * write path cheap enough to journal every result.
 *
 * A crash can leave a torn last line; `readAll` ignores a line that has no
 * newline or does not parse, and `open` cuts it off so later appends start on
 * a clean line.
 */
export class Journal {
  private fh: fsp.FileHandle | undefined;
  private size = 0;
  private count = 0;

  constructor(readonly file: string) {}

  get entries(): number {
    return this.count;
  }
  get bytes(): number {
    return this.size;
  }

  /** Read every complete entry (for replay), then open for appending. */
  async open(): Promise<Entry[]> {
    await fsp.mkdir(path.dirname(this.file), { recursive: true });
    const { entries, validBytes } = await Journal.read(this.file);
    this.fh = await fsp.open(this.file, 'a+');
    const st = await this.fh.stat();
    if (st.size !== validBytes) {
      await this.fh.truncate(validBytes);
      await this.fh.sync();
    }
    await fsyncDir(path.dirname(this.file));
    this.size = validBytes;
    this.count = entries.length;
    return entries;
  }

  /** Read entries without opening for writing (readers such as `status`). */
  static async read(file: string): Promise<{ entries: Entry[]; validBytes: number }> {
    let buf: Buffer;
    try {
      buf = await fsp.readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], validBytes: 0 };
      throw err;
    }
    const entries: Entry[] = [];
    let start = 0;
    let valid = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      try {
        entries.push(JSON.parse(buf.subarray(start, nl).toString('utf8')) as Entry);
      } catch {
        break; // a torn or garbled line: nothing after it was acknowledged
      }
      start = nl + 1;
      valid = start;
    }
    return { entries, validBytes: valid };
  }

  /** Append and fsync; resolves when the entries are durable. */
  async append(entries: Entry[]): Promise<void> {
    if (!this.fh) throw new Error('journal is not open');
    if (entries.length === 0) return;
    const text = entries.map((e) => JSON.stringify(e)).join('\n') + '\n';
    const data = Buffer.from(text, 'utf8');
    try {
      if (crashDue('journal.torn')) {
        await this.fh.write(data.subarray(0, Math.max(1, data.length >> 1)));
        crashNow();
      }
      await this.fh.write(data);
      await this.fh.sync();
      crashPoint('journal.synced');
    } catch (err) {
      // Cut off whatever part of the write landed, so the file stays clean.
      await this.fh.truncate(this.size).catch(() => undefined);
      throw err;
    }
    this.size += data.length;
    this.count += entries.length;
  }

  /**
   * Replace the journal with `entries` after a checkpoint made the rest
   * redundant. Atomic (temp + rename), so a crash leaves the old or the new
   * journal, never an empty one that forgot an open execution.
   */
  async rewrite(entries: Entry[]): Promise<void> {
    if (!this.fh) throw new Error('journal is not open');
    const text = entries.map((e) => JSON.stringify(e) + '\n').join('');
    await writeFileAtomic(this.file, text, { label: 'journal' });
    await this.fh.close();
    this.fh = await fsp.open(this.file, 'a+');
    this.size = Buffer.byteLength(text);
    this.count = entries.length;
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
  }
}

import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes, randomFillSync } from 'node:crypto';
import path from 'node:path';

/**
 * Writes a pywaggle run log the way pywaggle's FilesystemPublisher does
 * (PYWAGGLE_LOG_DIR, see /work/shared/research/waggle.md §1.3): the upload is
 * copied to `uploads/<ts_ns>-<basename>` first, then the `upload` line is
 * appended to `data.ndjson` (keys sorted, compact separators, absolute path).
 * A measurement line (`env.smoke.certainty`, a float) follows each upload, as
 * a smoke-detection plugin publishes one per frame.
 *
 * All writes are synchronous (one write(2) per line, like pywaggle's flushed
 * file), so the time taken right after writeSync returns is the moment the
 * line is visible to a reader.
 */
export class PywaggleWriter {
  readonly logdir: string;
  readonly uploads: string;
  private readonly fd: number;
  private lastNs = 0n;
  private counter = 0;
  /** One random block reused for every file; each file gets a unique header so contents never repeat. */
  private pool: Buffer = Buffer.alloc(0);

  constructor(logdir: string) {
    this.logdir = path.resolve(logdir);
    this.uploads = path.join(this.logdir, 'uploads');
    mkdirSync(this.uploads, { recursive: true });
    this.fd = openSync(path.join(this.logdir, 'data.ndjson'), 'a');
  }

  /** A strictly increasing ns timestamp near the wall clock (pywaggle: time.time_ns()). */
  private nextNs(): bigint {
    const [s, n] = process.hrtime();
    let ns = BigInt(Date.now()) * 1_000_000n + BigInt((s * 1e9 + n) % 1_000_000);
    if (ns <= this.lastNs) ns = this.lastNs + 1n;
    this.lastNs = ns;
    return ns;
  }

  /** Bytes of a new, unique file of `size` bytes. */
  content(size: number): Buffer {
    if (this.pool.length < size) this.pool = randomBytes(Math.max(size, 64 << 10));
    const buf = Buffer.from(this.pool.subarray(0, size));
    // Unique header: counter + 24 fresh random bytes (hash of the whole file differs every time).
    const head = Buffer.alloc(Math.min(size, 32));
    head.writeUInt32BE(++this.counter % 0xffffffff, 0);
    randomFillSync(head, 4);
    head.copy(buf, 0);
    return buf;
  }

  /**
   * Publish one result: the upload file, its `upload` line and a measurement
   * line. `file` (optional) is already-written content to move into uploads/
   * instead of writing `size` new bytes. Returns the upload key (as logged by
   * `recorded <key>`) and Date.now() when the upload line's write returned.
   */
  result(size: number, opts: { measurement?: boolean; data?: Buffer } = {}): { key: string; writtenAt: number; ns: bigint } {
    const ns = this.nextNs();
    const key = `${ns}-frame.jpg`;
    const abs = path.join(this.uploads, key);
    writeFileSync(abs, opts.data ?? this.content(size));
    return this.announce(ns, key, abs, opts.measurement ?? true);
  }

  /** Append the lines for an upload already in uploads/ (e.g. a big file moved in place). */
  announce(ns: bigint, key: string, abs: string, measurement = true): { key: string; writtenAt: number; ns: bigint } {
    const ts = pywaggleTimestamp(ns);
    const upload = `{"meta":{"filename":"frame.jpg"},"name":"upload","timestamp":"${ts}","value":${JSON.stringify(abs)}}\n`;
    writeSync(this.fd, upload);
    const writtenAt = Date.now();
    if (measurement) {
      const value = 0.5 + Math.random() / 2;
      writeSync(this.fd, `{"meta":{"camera":"rtsp://camera-top:554/live"},"name":"env.smoke.certainty","timestamp":"${ts}","value":${value}}\n`);
    }
    return { key, writtenAt, ns };
  }

  /** A new upload key and path for a file the caller places itself. */
  reserve(): { ns: bigint; key: string; abs: string } {
    const ns = this.nextNs();
    const key = `${ns}-frame.jpg`;
    return { ns, key, abs: path.join(this.uploads, key) };
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * pywaggle's run-log timestamp: `datetime.fromtimestamp(ns/1e9).isoformat() + f"{ns%1000:03d}"`
 * (local time, microseconds rounded through a float, fraction dropped when 0).
 */
export function pywaggleTimestamp(ns: bigint): string {
  const secFloat = Number(ns) / 1e9;
  let sec = Math.floor(secFloat);
  let micro = Math.round((secFloat - sec) * 1e6);
  if (micro >= 1_000_000) {
    sec += 1;
    micro -= 1_000_000;
  }
  const d = new Date(sec * 1000);
  const p = (v: number, w = 2) => String(v).padStart(w, '0');
  const base = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  const frac = micro === 0 ? '' : `.${p(micro, 6)}`;
  return `${base}${frac}${p(Number(ns % 1000n), 3)}`;
}

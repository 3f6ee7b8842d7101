import type { Progress } from './archive.js';

/** Below this, packaging is quick and a percentage line would only flicker. */
const MIN_BYTES = 8 << 20;

export interface ProgressLine {
  update: Progress;
  end(): void;
}

/**
 * A one-line percentage on a terminal (`\r`, rewritten at most 5 times a
 * second), nothing when the stream is not a TTY: logs and cron mail stay clean.
 */
export function progressLine(label: string, stream: Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean } = process.stderr): ProgressLine {
  let last = -1;
  let lastAt = 0;
  let shown = false;
  return {
    update(done, total) {
      if (!stream.isTTY || total < MIN_BYTES) return;
      const pct = Math.min(100, Math.floor((done / total) * 100));
      const now = Date.now();
      if (pct === last || (now - lastAt < 200 && pct < 100)) return;
      last = pct;
      lastAt = now;
      shown = true;
      stream.write(`\r${label} ${pct}%`);
    },
    end() {
      if (shown) stream.write('\n');
      shown = false;
    },
  };
}

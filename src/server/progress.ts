import type { DeliveryProgress } from './deliver.js';

/**
 * A one-line progress display for long uploads, redrawn at most every
 * `everyMs` on a terminal; nothing at all when `stream` is not a TTY (logs and
 * pipes get the pino lines only). Call `end()` to finish the line.
 */
export function ttyProgress(stream: NodeJS.WriteStream = process.stderr, everyMs = 200): { onProgress?: (p: DeliveryProgress) => void; end: () => void } {
  if (!stream.isTTY) return { end: () => undefined };
  let last = 0;
  let drawn = false;
  let started = Date.now();
  let segment = '';
  const draw = (text: string) => {
    const width = Math.max(20, (stream.columns ?? 80) - 1);
    stream.write(`\r${text.slice(0, width).padEnd(drawn ? width : 0)}`);
    drawn = true;
  };
  return {
    onProgress(p) {
      if (p.segment !== segment) {
        segment = p.segment;
        started = Date.now();
      }
      const now = Date.now();
      const a = p.artifacts;
      const final = a && a.objectsDone === a.objectsTotal;
      if (!final && now - last < everyMs) return;
      last = now;
      if (!a) return draw(`segment ${p.segment}: ${p.step === 'git' ? 'pushing code' : p.step === 'metadata' ? 'sending metadata' : 'checking artifacts'}…`);
      const secs = Math.max((now - started) / 1000, 0.001);
      const rate = (a.bytesDone / 1e6 / secs).toFixed(1);
      const pct = a.bytesTotal ? Math.floor((a.bytesDone / a.bytesTotal) * 100) : 100;
      draw(`segment ${p.segment}: artifacts ${a.objectsDone}/${a.objectsTotal} (${a.skipped} already there)  ${mib(a.bytesDone)}/${mib(a.bytesTotal)}  ${pct}%  ${rate} MB/s`);
    },
    end() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}

function mib(n: number): string {
  return n >= 1 << 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

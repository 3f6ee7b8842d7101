import { watch as chokidarWatch, type FSWatcher } from 'chokidar';
import path from 'node:path';
import type { Logger } from '../log.js';
import { UserError } from '../errors.js';
import type { Recorder } from './recorder.js';

export interface WatchLoopOptions {
  resultsDir: string;
  modelPath: string;
  workspace: string;
  once: boolean;
  /** Reconciliation poll: file events can be missed, a timer never is. */
  pollMs: number;
  settleMs: number;
  logger: Logger;
  /** Resolves when the loop should stop (signal); ignored with --once. */
  stop?: Promise<unknown>;
}

/**
 * Drives a Recorder: file events (chokidar) and a timer both request a poll;
 * polls run one at a time. With --once: record what is there, wait for files
 * still settling, close the execution and return.
 */
export async function runWatchLoop(rec: Recorder, o: WatchLoopOptions): Promise<void> {
  if (o.once) return runOnce(rec, o);
  let wake: (() => void) | undefined;
  let requested = true;
  let stopping = false;
  const request = () => {
    requested = true;
    wake?.();
  };
  // One poll first, so the source (pywaggle or folder) is known before the watcher scans.
  await rec.poll().catch((err) => {
    if (!(err instanceof UserError) || (err.exitCode !== 74 && err.exitCode !== 77)) throw err;
  });
  const uploads = path.join(o.resultsDir, 'uploads');
  const watcher: FSWatcher = chokidarWatch([o.resultsDir, o.modelPath], {
    ignoreInitial: true,
    // In pywaggle mode the data.ndjson line is the signal (it is written after
    // the copy): watching every upload file would cost an inotify watch and
    // a re-scan of uploads/ per event, growing with every upload ever made.
    ignored: (p: string) =>
      p === o.workspace ||
      p.startsWith(o.workspace + path.sep) ||
      (rec.sourceKind === 'pywaggle' && (p === uploads || p.startsWith(uploads + path.sep))),
    // Events are only hints to poll now; the poll itself decides what is complete.
    awaitWriteFinish: false,
  });
  watcher.on('all', request);
  watcher.on('error', (err) => o.logger.warn({ err: String(err) }, 'file watcher error; relying on the timer'));
  const timer = setInterval(request, o.pollMs);
  o.stop?.then(() => {
    stopping = true;
    wake?.();
  });
  let backoffMs = 0;
  try {
    while (!stopping) {
      if (!requested) {
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
        continue;
      }
      requested = false;
      try {
        const { more } = await rec.poll();
        await rec.tick();
        if (more) requested = true;
        backoffMs = 0;
      } catch (err) {
        if (!(err instanceof UserError) || (err.exitCode !== 74 && err.exitCode !== 77)) throw err;
        // Disk full or permissions: nothing was marked done; try again later.
        backoffMs = Math.min(Math.max(backoffMs * 2, 1000), 60_000);
        o.logger.error({ retryInMs: backoffMs }, err.message);
        await new Promise((r) => setTimeout(r, backoffMs));
        requested = true;
      }
    }
  } finally {
    clearInterval(timer);
    await watcher.close();
  }
}

async function runOnce(rec: Recorder, o: WatchLoopOptions): Promise<void> {
  for (;;) {
    const { recorded, pending, more } = await rec.poll();
    await rec.tick();
    if (more) continue;
    if (recorded === 0 && pending === 0 && !rec.modelSettling) break;
    if (recorded === 0) await new Promise((r) => setTimeout(r, Math.max(50, Math.min(500, o.settleMs / 4))));
  }
  await rec.closeExecution('--once finished');
}

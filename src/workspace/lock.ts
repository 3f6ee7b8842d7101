import { promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../fsutil/atomic.js';
import type { Logger } from '../log.js';

export interface LockInfo {
  pid: number;
  host: string;
  started: string;
  command: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A recycled pid belongs to some other program: only a cmf-sage counts.
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('cmf-sage');
  } catch {
    return true;
  }
}

/**
 * One writer per workspace. The lock file names the holder; a lock whose
 * process is gone (kill -9, power loss) is taken over.
 */
export class WorkspaceLock {
  private held = false;
  constructor(
    private readonly file: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Take the lock; a short command (not a watch) holding it is waited for up
   * to `waitMs`. `busy` words the refusal when a live process holds it.
   */
  async acquire(command: string, waitMs = 30_000, busy?: (other: LockInfo) => string): Promise<void> {
    const waitUntil = Date.now() + waitMs;
    const mine: LockInfo = { pid: process.pid, host: os.hostname(), started: new Date().toISOString(), command };
    const text = JSON.stringify(mine) + '\n';
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await fsp.open(this.file, 'wx', 0o644);
        await fh.writeFile(text);
        await fh.sync();
        await fh.close();
        this.held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const other = await this.read();
      if (other && other.host === mine.host && other.pid !== process.pid && alive(other.pid) && !/\bwatch\b/.test(other.command) && Date.now() < waitUntil) {
        // push and other short commands hold the lock for seconds: wait for them
        attempt--;
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (other && other.host === mine.host && other.pid !== process.pid && alive(other.pid)) {
        throw new UserError(
          busy?.(other) ??
            `the workspace is in use by another cmf-sage (pid ${other.pid}, "${other.command}", started ${other.started}); stop it first or use another --workspace`,
          3,
        );
      }
      if (other && other.host !== mine.host) {
        throw new UserError(
          `the workspace is locked by cmf-sage on host ${other.host} (pid ${other.pid}); if that host is gone, delete ${this.file}`,
          3,
        );
      }
      // Stale: replace it atomically, then check we won against a concurrent taker.
      this.logger.warn({ lock: this.file, stale: other }, 'taking over a stale workspace lock');
      await writeFileAtomic(this.file, text);
      const now = await this.read();
      if (now && now.pid === process.pid) {
        this.held = true;
        return;
      }
    }
    throw new UserError(`could not take the workspace lock ${this.file}; try again`, 3);
  }

  private async read(): Promise<LockInfo | undefined> {
    try {
      return JSON.parse(await fsp.readFile(this.file, 'utf8')) as LockInfo;
    } catch {
      return undefined;
    }
  }

  async release(): Promise<void> {
    if (!this.held) return;
    const now = await this.read();
    if (now && now.pid === process.pid) await fsp.rm(this.file, { force: true });
    this.held = false;
  }
}

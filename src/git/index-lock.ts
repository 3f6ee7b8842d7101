import { promises as fsp } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { tempPathFor } from '../fsutil/atomic.js';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * `.git/index.lock`, taken around every mutating operation so that a git CLI
 * run at the same time fails fast ("Another git process seems to be running")
 * instead of interleaving index writes with ours (isomorphic-git takes no file
 * locks at all). `git status` takes this lock only opportunistically, so it
 * keeps working; we wait for it to finish instead.
 *
 * The lock file carries our pid so that a lock left by a killed cmf-sage
 * process is recognised and removed at once. It is created by link(2) from a
 * fully written temp file: link is atomic and fails with EEXIST like O_EXCL,
 * and a crash can never leave a lock without its owner line.
 */
const MARK = 'cmf-sage-index-lock';

export interface IndexLockOptions {
  /** Give up waiting for a lock held by someone else after this long. */
  timeoutMs?: number;
  /** At open, a foreign lock older than this is treated as left by a crash. */
  staleMs?: number;
}

export class IndexLock {
  readonly file: string;
  private readonly timeoutMs: number;
  private readonly staleMs: number;

  constructor(gitdir: string, private readonly logger: Logger, opts: IndexLockOptions = {}) {
    this.file = path.join(gitdir, 'index.lock');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.staleMs = opts.staleMs ?? 30_000;
  }

  /** Take the lock; resolves to its release function. */
  async acquire(): Promise<() => Promise<void>> {
    const tmp = tempPathFor(this.file);
    await fsp.writeFile(tmp, `${MARK} pid=${process.pid} host=${os.hostname()}\n`, { flag: 'wx' });
    const deadline = Date.now() + this.timeoutMs;
    let wait = 5;
    try {
      for (;;) {
        try {
          await fsp.link(tmp, this.file);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        if (await this.removeIfOrphan(0)) continue;
        if (Date.now() > deadline) {
          throw new UserError(
            `${this.file} is held by another process: wait for the running git command to finish, or delete the file if none is running`,
          );
        }
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, 100);
      }
    } finally {
      await fsp.rm(tmp, { force: true });
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await fsp.rm(this.file, { force: true });
    };
  }

  /**
   * Remove a lock left behind by a crash: always when it names a cmf-sage
   * process on this host that no longer runs; a foreign one (git CLI) only
   * when older than `olderThanMs`. Returns true when it removed one.
   */
  async removeIfOrphan(olderThanMs: number = this.staleMs): Promise<boolean> {
    let text: string;
    let mtimeMs: number;
    try {
      [text, mtimeMs] = await Promise.all([
        fsp.readFile(this.file, 'utf8'),
        fsp.stat(this.file).then((s) => s.mtimeMs),
      ]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    const m = new RegExp(`^${MARK} pid=(\\d+) host=(.*)\\n`).exec(text);
    let orphan: boolean;
    let why: string;
    if (m && m[2] === os.hostname()) {
      orphan = !pidAlive(Number(m[1]));
      why = `its owner, cmf-sage pid ${m[1]}, is gone`;
    } else {
      orphan = olderThanMs > 0 && Date.now() - mtimeMs > olderThanMs;
      why = `it is older than ${Math.round(olderThanMs / 1000)} s and the caller is the only writer of this workspace`;
    }
    if (!orphan) return false;
    this.logger.warn({ file: this.file }, `removing stale ${this.file}: ${why}`);
    await fsp.rm(this.file, { force: true });
    return true;
  }
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

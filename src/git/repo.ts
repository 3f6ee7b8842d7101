import { promises as fsp } from 'node:fs';
import path from 'node:path';
import git from 'isomorphic-git';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { removeStaleTemps } from '../fsutil/atomic.js';
import { createDurableFs, type DurableFs } from './durable-fs.js';
import { gitArgs, makeCtx, type GitCtx } from './context.js';
import { SerialQueue } from './queue.js';
import { IndexLock } from './index-lock.js';
import { createRepo, ensureRemote, removeAbandonedInits, type Author } from './create.js';
import { ensureBranch } from './branch.js';
import { Committer } from './commit-paths.js';
import { indexHas, rebuildIndexFromCommit } from './index-file.js';
import { commitReads, historyReads, indexReads, newestCompleteLooseCommit } from './verify.js';
import { isSha, isValidBranchName, readHead, readRef, writeHeadDurably, writeRefDurably } from './refs.js';

export type CheckResult = { ok: true } | { ok: false; problem: string; file: string };

export interface WorkspaceRepoOptions {
  logger: Logger;
  author?: Author;
  /** fsync objects, index and refs (default true). Off only for tests/benchmarks. */
  fsync?: boolean;
  /** How long to wait for a `.git/index.lock` held by someone else (default 10 s). */
  lockTimeoutMs?: number;
  /** At open, a foreign `.git/index.lock` older than this is removed (default 30 s). */
  staleLockMs?: number;
}

/**
 * The workspace's git repository, written with isomorphic-git through a
 * crash-safe fs adapter (see durable-fs.ts). All calls are serialised through
 * one queue (isomorphic-git does not support concurrent operations, B15);
 * mutating calls also hold `.git/index.lock` so a git CLI run at the same
 * time fails fast instead of racing. The caller guarantees one cmf-sage
 * writer per workspace.
 */
export class WorkspaceRepo {
  readonly dir: string;
  private readonly logger: Logger;
  private readonly author: Author;
  private readonly durable: DurableFs;
  private readonly ctx: GitCtx;
  private readonly queue = new SerialQueue();
  private readonly lock: IndexLock;
  private readonly committer: Committer;
  private readonly staleLockMs: number;
  private branch: string | undefined;
  private opened = false;

  constructor(dir: string, opts: WorkspaceRepoOptions) {
    this.dir = path.resolve(dir);
    this.logger = opts.logger;
    this.author = opts.author ?? { name: 'cmf-sage', email: 'cmf-sage@localhost' };
    this.durable = createDurableFs({ fsync: opts.fsync ?? true });
    this.ctx = makeCtx(this.dir, this.durable);
    this.lock = new IndexLock(this.ctx.gitdir, this.logger, { timeoutMs: opts.lockTimeoutMs });
    this.committer = new Committer(this.ctx);
    this.staleLockMs = opts.staleLockMs ?? 30_000;
  }

  /** fs-adapter counters (writes, fsyncs), for benchmarks. */
  get ioCounters(): DurableFs['counters'] {
    return this.durable.counters;
  }

  async init(opts: { branch: string; remoteUrl?: string }): Promise<{ created: boolean }> {
    if (!isValidBranchName(opts.branch)) throw new UserError(`invalid git branch name "${opts.branch}"`);
    return this.queue.run(async () => {
      this.branch = opts.branch;
      await fsp.mkdir(this.dir, { recursive: true });
      await removeAbandonedInits(this.dir);
      if (!(await exists(this.ctx.gitdir))) {
        const made = await createRepo(this.ctx, { branch: opts.branch, remoteUrl: opts.remoteUrl, author: this.author });
        if (made) {
          this.opened = true;
          this.logger.info({ dir: this.dir, branch: opts.branch }, 'created git repository');
          return { created: true };
        }
      }
      await this.open();
      await this.locked(() => ensureBranch(this.ctx, opts.branch, this.author, this.logger));
      if (opts.remoteUrl) await ensureRemote(this.ctx, opts.remoteUrl);
      return { created: false };
    });
  }

  async head(): Promise<string> {
    return this.queue.run(async () => {
      await this.open();
      return this.requireHead();
    });
  }

  /**
   * Stage exactly `paths` (existing files added, vanished ones dropped from
   * the index, all in one index rewrite) and commit. Returns the new HEAD, or
   * the current one when none of the paths differs from HEAD.
   */
  async commit(paths: string[], message: string): Promise<string> {
    const rel = normalizePaths(this.dir, paths);
    return this.mutate(async () => {
      const head = await this.requireHeadInfo();
      if (rel.length === 0) return head.sha;
      const who = { ...this.author, timestamp: Math.floor(Date.now() / 1000) };
      const sha = await this.committer.commit(rel, message, who, head);
      if (sha !== head.sha) this.logger.debug({ sha, paths: rel.length }, 'committed');
      return sha;
    });
  }

  /** Is `filepath` in the index (`git ls-files --error-unmatch`)? */
  async isTracked(filepath: string): Promise<boolean> {
    const [rel] = normalizePaths(this.dir, [filepath]);
    return this.queue.run(async () => {
      await this.open();
      return rel !== undefined && indexHas(this.ctx, rel);
    });
  }

  /** Files in a commit's tree, optionally only those at or under `prefix`. */
  async listFiles(ref = 'HEAD', prefix?: string): Promise<string[]> {
    return this.queue.run(async () => {
      await this.open();
      const files = await git.listFiles({ ...gitArgs(this.ctx), ref });
      if (!prefix) return files;
      const p = prefix.replace(/\/+$/, '');
      return files.filter((f) => f === p || f.startsWith(`${p}/`));
    });
  }

  async setRemote(url: string): Promise<void> {
    return this.queue.run(async () => {
      await this.open();
      await ensureRemote(this.ctx, url);
    });
  }

  /** B16: is HEAD, its branch ref, the commit they name, and the index readable? */
  async check(): Promise<CheckResult> {
    return this.queue.run(async () => {
      await this.open();
      return this.checkNow();
    });
  }

  /**
   * B16 repair, in this order:
   * 1. HEAD empty or garbage (or detached at an unreadable commit): rewrite it
   *    as `ref: refs/heads/<branch>` (the branch given to init; without init,
   *    the only branch besides master, else master).
   * 2. Branch ref empty, garbage, missing, or naming an unreadable commit:
   *    point it at the first of `candidates` (newest first) whose whole history
   *    and tree are present; if none, at the newest loose commit by committer
   *    time whose whole history and tree are present (ties: longest history).
   *    If there is none either, return undefined and change nothing more.
   * 3. Index corrupt (checksum), or missing while HEAD has files: rebuild it
   *    from HEAD's tree (the old file is kept as .git/index.corrupt).
   * Returns HEAD's commit after repair.
   */
  async repair(candidates: string[]): Promise<string | undefined> {
    return this.mutate(async () => {
      let result: string | undefined;
      const head = await readHead(this.ctx.gitdir);
      let branchRef: string | undefined;
      if (head.kind === 'symbolic') branchRef = head.ref;
      else if (head.kind === 'detached' && (await commitReads(this.ctx, head.sha))) result = head.sha;
      else {
        const branch = this.branch ?? (await guessBranch(this.ctx.gitdir));
        this.logger.warn({ file: path.join(this.ctx.gitdir, 'HEAD') }, `repair: HEAD rewritten to refs/heads/${branch}`);
        await writeHeadDurably(this.ctx, branch);
        branchRef = `refs/heads/${branch}`;
      }
      if (branchRef) {
        const ref = await readRef(this.ctx.gitdir, branchRef);
        if (ref.kind === 'ok' && (await commitReads(this.ctx, ref.sha))) result = ref.sha;
        else {
          result = await this.pickCommit(candidates);
          if (result === undefined) return undefined;
          this.logger.warn({ file: path.join(this.ctx.gitdir, branchRef), sha: result }, `repair: ${branchRef} reset to ${result}`);
          await writeRefDurably(this.ctx, branchRef, result);
        }
      }
      if (result !== undefined && (await this.indexBroken(result))) {
        const n = await rebuildIndexFromCommit(this.ctx, result);
        this.logger.warn({ file: path.join(this.ctx.gitdir, 'index'), entries: n }, 'repair: index rebuilt from HEAD');
      }
      // Nothing isomorphic-git or the committer cached about the old state may survive.
      this.ctx.cache = {};
      this.committer.forget();
      return result;
    });
  }

  private async pickCommit(candidates: string[]): Promise<string | undefined> {
    for (const c of candidates) {
      if (isSha(c) && (await historyReads(this.ctx, c)) !== undefined) return c;
    }
    return newestCompleteLooseCommit(this.ctx);
  }

  private async checkNow(): Promise<CheckResult> {
    const gitdir = this.ctx.gitdir;
    const head = await readHead(gitdir);
    if (head.kind === 'broken') return { ok: false, problem: `HEAD ${head.reason}`, file: path.join(gitdir, 'HEAD') };
    let sha: string;
    let file = path.join(gitdir, 'HEAD');
    if (head.kind === 'detached') sha = head.sha;
    else {
      file = path.join(gitdir, head.ref);
      const ref = await readRef(gitdir, head.ref);
      if (ref.kind === 'broken') return { ok: false, problem: `branch ref ${head.ref} ${ref.reason}`, file };
      if (ref.kind === 'missing') return { ok: false, problem: `branch ref ${head.ref} does not exist`, file };
      sha = ref.sha;
    }
    if (!(await commitReads(this.ctx, sha))) {
      return { ok: false, problem: `HEAD names commit ${sha}, which is missing or corrupt`, file };
    }
    if (await this.indexBroken(sha)) return { ok: false, problem: 'the index is corrupt or missing', file: path.join(gitdir, 'index') };
    return { ok: true };
  }

  private async indexBroken(headSha: string): Promise<boolean> {
    if (!(await indexReads(this.ctx))) return true;
    if (await exists(path.join(this.ctx.gitdir, 'index'))) return false;
    // No index at all: fine only if HEAD has no files (else the next commit would delete them all).
    const files = await git.listFiles({ ...gitArgs(this.ctx), cache: {}, ref: headSha });
    return files.length > 0;
  }

  /** HEAD's commit, or a one-line error naming the broken file (never isomorphic-git's TypeError, #2287). */
  private async requireHead(): Promise<string> {
    return (await this.requireHeadInfo()).sha;
  }

  /** HEAD's commit and the ref a new commit moves (`HEAD` itself when detached). */
  private async requireHeadInfo(): Promise<{ sha: string; ref: string }> {
    const r = await this.checkHeadOnly();
    if (!r.ok) throw new UserError(`git repository ${this.dir} is damaged: ${r.problem} (${r.file}); run the repair`, 3);
    return { sha: r.sha, ref: r.ref };
  }

  private async checkHeadOnly(): Promise<{ ok: true; sha: string; ref: string } | { ok: false; problem: string; file: string }> {
    const gitdir = this.ctx.gitdir;
    const head = await readHead(gitdir);
    if (head.kind === 'broken') return { ok: false, problem: `HEAD ${head.reason}`, file: path.join(gitdir, 'HEAD') };
    if (head.kind === 'detached') return { ok: true, sha: head.sha, ref: 'HEAD' };
    const ref = await readRef(gitdir, head.ref);
    const file = path.join(gitdir, head.ref);
    if (ref.kind !== 'ok') return { ok: false, problem: `branch ref ${head.ref} is ${ref.kind === 'missing' ? 'missing' : ref.reason}`, file };
    return { ok: true, sha: ref.sha, ref: head.ref };
  }

  /** First touch of an existing repo: clear what a crash of an earlier run left behind. */
  private async open(): Promise<void> {
    if (this.opened) return;
    if (!(await exists(this.ctx.gitdir))) {
      throw new UserError(`${this.dir} is not a git repository: run init first`);
    }
    await this.lock.removeIfOrphan(this.staleLockMs);
    await removeStaleTemps(this.ctx.gitdir);
    await removeStaleTemps(path.join(this.ctx.gitdir, 'refs', 'heads'));
    this.opened = true;
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.acquire().then(async (release) => {
      try {
        return await fn();
      } finally {
        await release();
      }
    });
  }

  private mutate<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      await this.open();
      return this.locked(fn);
    });
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Workspace-relative posix paths; anything outside the work tree or inside .git is refused. */
function normalizePaths(dir: string, paths: string[]): string[] {
  const out = new Set<string>();
  for (const raw of paths) {
    const rel = path.isAbsolute(raw) ? path.relative(dir, raw) : raw;
    const p = path.posix.normalize(rel.split(path.sep).join('/')).replace(/\/+$/, '');
    if (p === '' || p === '.' || p.startsWith('../') || p === '..' || path.posix.isAbsolute(p) || p === '.git' || p.startsWith('.git/')) {
      throw new UserError(`cannot commit "${raw}": not a path inside the workspace ${dir}`);
    }
    out.add(p);
  }
  return [...out].sort();
}

/** The work branch when init() was not called: the only branch besides master, else master. */
async function guessBranch(gitdir: string): Promise<string> {
  const names = await fsp.readdir(path.join(gitdir, 'refs', 'heads')).catch(() => [] as string[]);
  const others = names.filter((n) => n !== 'master' && !n.startsWith('.') && !n.endsWith('.lock'));
  return others.length === 1 ? others[0]! : 'master';
}

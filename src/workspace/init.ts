import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { initDvc, readDefaultRemote } from '../dvc/index.js';
import { WorkspaceRepo } from '../git/index.js';
import { describeFsError, UserError } from '../errors.js';
import { writeFileAtomic } from '../fsutil/atomic.js';
import type { Logger } from '../log.js';
import type { WorkspaceLayout } from './layout.js';

export interface InitOptions {
  dvcRemote: string;
  gitRemote?: string;
  logger: Logger;
  /** Commits known from the metadata, newest first, to repair a broken branch ref. */
  repairCandidates?: string[];
}

/** The files cmf-sage itself keeps in git besides the pointers. */
export const CONFIG_PATHS = ['.gitignore', '.cmfconfig', '.dvc/config', '.dvc/.gitignore', '.dvcignore'];

/**
 * Create (first run) or check (later runs) a cmf workspace: what `cmf init
 * local` leaves behind (git repo with `cmf_origin`, DVC with a default
 * remote, `.cmfconfig`) plus cmf-sage's state folder. Idempotent.
 */
export async function ensureWorkspace(ws: WorkspaceLayout, opts: InitOptions): Promise<{ repo: WorkspaceRepo; created: boolean }> {
  try {
    const st = await fsp.stat(ws.root).catch(() => undefined);
    if (st && !st.isDirectory()) {
      throw new UserError(`workspace ${ws.root} exists and is not a folder; choose another --workspace`);
    }
    await fsp.mkdir(ws.stateDir, { recursive: true });
    await ensureFile(
      path.join(ws.root, '.gitignore'),
      `# cmf-sage: the mlmd file and local state are not versioned in git\n/${ws.mlmdName}\n/.${ws.mlmdName}.*.tmp\n/.cmf-sage/\n`,
    );
    // cmf's own default server URL; `cmf init` would write the same.
    await ensureFile(ws.cmfConfig, '[cmf]\nserver-url = http://127.0.0.1:80\n\n');
    const remote = opts.dvcRemote;
    const existing = await readDefaultRemote(ws.root);
    await initDvc(ws.root, remote);
    if (existing && existing.url !== remote) {
      opts.logger.info({ from: existing.url, to: remote }, 'default DVC remote changed');
    }
    const repo = new WorkspaceRepo(ws.root, { logger: opts.logger });
    const { created } = await repo.init({ branch: ws.mlmdName, remoteUrl: opts.gitRemote });
    const health = await repo.check();
    if (!health.ok) {
      const head = await repo.repair(opts.repairCandidates ?? []);
      if (!head) {
        throw new UserError(
          `the git repository in ${ws.root} is damaged (${health.problem}: ${health.file}) and could not be repaired; move the workspace aside or restore .git from a backup`,
        );
      }
      opts.logger.warn({ problem: health.problem, file: health.file, head }, 'repaired the git repository');
    }
    await repo.commit(CONFIG_PATHS, 'cmf-sage: workspace configuration (DVC, cmf)');
    return { repo, created };
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code) throw describeFsError(err, `setting up the workspace ${ws.root}`);
    throw err;
  }
}

async function ensureFile(file: string, content: string): Promise<void> {
  try {
    await fsp.access(file);
  } catch {
    await writeFileAtomic(file, content);
  }
}

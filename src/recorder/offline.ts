import { promises as fsp } from 'node:fs';
import { loadMlmd, saveMlmd, MlmdStore } from '../mlmd/index.js';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../fsutil/atomic.js';
import type { Logger } from '../log.js';
import { WorkspaceLayout } from '../workspace/layout.js';
import { WorkspaceLock } from '../workspace/lock.js';
import { readSettings } from '../workspace/settings.js';
import { Journal } from './journal.js';
import { Applier } from './apply.js';
import type { Entry } from './entries.js';
import { closedExecutions, pruneExecutions, sealSegment } from './segment.js';

export type SealOutcome = 'sealed-by-watch' | 'sealed' | 'nothing-to-seal' | 'watch-did-not-answer';

/**
 * Make sure every closed execution is in a sealed segment before `push`
 * delivers segments. If `watch` runs (it holds the workspace lock), ask it
 * to seal and wait; otherwise take the lock and seal here, exactly as watch
 * would: replay the journal, seal, prune the live mlmd, save, and keep in the
 * journal only what belongs to executions that are still open.
 */
export async function sealForPush(workspace: string, logger: Logger, opts: { waitMs?: number; command?: string } = {}): Promise<SealOutcome> {
  const probe = new WorkspaceLayout(workspace);
  const settings = await readSettings(probe.settingsFile);
  if (!settings) throw new UserError(`no cmf-sage workspace at ${probe.root}; run "cmf-sage watch" first or pass --workspace`);
  const ws = new WorkspaceLayout(workspace, settings.mlmd);
  const lock = new WorkspaceLock(ws.lockFile, logger);
  try {
    await lock.acquire(opts.command ?? 'cmf-sage push', 0);
  } catch (err) {
    if (!(err instanceof UserError) || err.exitCode !== 3) throw err;
    return askWatch(ws, logger, opts.waitMs ?? 30_000);
  }
  try {
    const { db, stamp } = await loadMlmd(ws.mlmdFile);
    const store = new MlmdStore(db);
    const { entries } = await Journal.read(ws.journalFile);
    if (entries.length) new Applier(store).apply(entries);
    const ids = closedExecutions(store, `${settings.pipeline}/${settings.stage}`);
    if (ids.length === 0) return 'nothing-to-seal';
    const seg = await sealSegment(store, ids, { root: ws.root, pipeline: settings.pipeline, stage: settings.stage, mlmdName: settings.mlmd });
    const sealed = new Set(seg.manifest.executions);
    pruneExecutions(store, ids, 'others');
    store.db.exec('VACUUM');
    await saveMlmd(store, ws.mlmdFile, { expect: stamp });
    const keep = entries.filter((e) => !sealed.has(execOf(e) ?? ''));
    await writeFileAtomic(ws.journalFile, keep.map((e) => JSON.stringify(e) + '\n').join(''));
    logger.info({ segment: seg.manifest.segment, executions: ids.length }, 'segment sealed');
    return 'sealed';
  } finally {
    await lock.release();
  }
}

function execOf(e: Entry): string | undefined {
  if (e.t === 'open') return e.uuid;
  if (e.t === 'file' || e.t === 'measure' || e.t === 'close') return e.exec;
  return undefined;
}

/** Leave a request for the running watch and wait until it has sealed. */
async function askWatch(ws: WorkspaceLayout, logger: Logger, waitMs: number): Promise<SealOutcome> {
  await writeFileAtomic(ws.sealRequestFile, `${process.pid}\n`);
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const pending = await fsp.stat(ws.sealRequestFile).then(() => true, () => false);
    if (!pending) return 'sealed-by-watch';
    await new Promise((r) => setTimeout(r, 100));
  }
  logger.warn({ waitedMs: waitMs }, 'watch did not seal in time; delivering the segments already sealed');
  return 'watch-did-not-answer';
}

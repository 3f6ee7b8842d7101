import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { v1 as uuidv1 } from 'uuid';
import { loadMlmd, saveMlmd, MlmdStore, TypeKind, ExecutionState, str, int, fileStamp, sameStamp, type FileStamp } from '../mlmd/index.js';
import { DvcCache, SourceChangedError, renderPointer, ensureIgnoredDataDir } from '../dvc/index.js';
import type { WorkspaceRepo } from '../git/index.js';
import { datasetName, DATASET_TYPE, METRICS_TYPE } from '../cmf/names.js';
import { closeExecution, knownGitCommits } from '../cmf/lineage.js';
import { describeFsError, UserError } from '../errors.js';
import { writeFileAtomic } from '../fsutil/atomic.js';
import { mapPool } from '../util/pool.js';
import { crashPoint } from '../faults.js';
import type { Logger } from '../log.js';
import type { Observation, ResultFile, Measurement } from '../sources/observation.js';
import { PywaggleSource } from '../sources/pywaggle.js';
import { FolderSource } from '../sources/folder.js';
import { nsFromMs } from '../sources/timestamp.js';
import { WorkspaceLayout } from '../workspace/layout.js';
import { WorkspaceLock } from '../workspace/lock.js';
import { ensureWorkspace } from '../workspace/init.js';
import { loadState, saveState, type SourceState } from '../workspace/state.js';
import { readSettings, writeSettings } from '../workspace/settings.js';
import { Journal } from './journal.js';
import { closedExecutions, newestSegment, pruneExecutions, resultCount, sealSegment } from './segment.js';
import { Applier } from './apply.js';
import { ModelTracker, type KnownModel } from './model.js';
import type { Entry, FileEntry, MeasureEntry, OpenEntry, ModelRef } from './entries.js';

export type SourceKind = 'auto' | 'pywaggle' | 'dir';

/** Result files copied into the cache at once (overlaps their fsyncs). */
const CACHE_CONCURRENCY = 16;

interface CachedFile {
  md5: string;
  sha1: string;
  size: number;
}

export interface RecorderOptions {
  workspace: string;
  mlmdName: string;
  pipeline: string;
  stage: string;
  executionType: string;
  modelPath: string;
  modelFramework: string;
  modelType: string;
  modelName: string;
  resultsDir: string;
  source: SourceKind;
  dvcRemote: string;
  gitRemote?: string;
  windowMs: number;
  /** How long a file must stay unchanged before it counts (folder mode, model). */
  settleMs: number;
  /** Checkpoint (commit, save mlmd, reset journal) at least this often while busy. */
  checkpointMs: number;
  /** ... or after this many journal entries. */
  checkpointEntries: number;
  /** Seal closed executions into a segment once the live mlmd holds this many results. */
  segmentResults: number;
  identity: Record<string, string>;
  command: string;
  logger: Logger;
  now?: () => number;
}

interface OpenExecution {
  entry: OpenEntry;
  openedAt: number;
  lastResultNs: bigint;
}

/** Uploads cmf-sage makes itself (push archives) are never results. */
export const OWN_UPLOAD_PREFIX = 'cmf_archive_';

/**
 * The write path from observations to durable lineage:
 *   observation → cache object (fsynced) → pointer → journal (fsynced: now it
 *   counts as recorded) → MLMD in memory → checkpoint (git commit, atomic
 *   mlmd save, journal reset).
 * One Recorder per workspace (it holds the workspace lock).
 */
export class Recorder {
  private readonly ws: WorkspaceLayout;
  private readonly journal: Journal;
  private readonly applier: Applier;
  private readonly cache: DvcCache;
  private readonly model: ModelTracker;
  private readonly lock: WorkspaceLock;
  private source: PywaggleSource | FolderSource | undefined;
  private state: SourceState = { version: 1, seen: {} };
  private open: OpenExecution | undefined;
  /** Pointer files written since the last commit → the md5 they name ('' for .gitignore files). */
  private readonly pendingPointers = new Map<string, string>();
  private readonly ignoredDirs = new Set<string>();
  private lastCheckpoint = 0;
  private dirty = false;
  private datasetTypeId: number | undefined;
  private metricsTypeId: number | undefined;
  private totalRecorded = 0;
  private totalFiles = 0;
  private filesHashed = 0;
  /** Results (Dataset + Metrics) in the live mlmd: what the next segment would hold. */
  private liveResults = 0;
  /** The mlmd file as we last wrote it: a save refuses if someone else changed it since (B09). */
  private mlmdStamp: FileStamp | null = null;

  private constructor(
    private readonly opts: RecorderOptions,
    private readonly store: MlmdStore,
    private readonly repo: WorkspaceRepo,
    ws: WorkspaceLayout,
    lock: WorkspaceLock,
  ) {
    this.ws = ws;
    this.lock = lock;
    this.journal = new Journal(ws.journalFile);
    this.applier = new Applier(store, (entry, err) =>
      opts.logger.error({ entry: entry.t, err: err.message }, 'a journal entry could not be recorded; skipped'),
    );
    this.cache = new DvcCache(ws.cacheDir, { logger: opts.logger });
    this.model = new ModelTracker(opts.modelPath, this.cache, {
      framework: opts.modelFramework,
      type: opts.modelType,
      name: opts.modelName,
      settleMs: opts.settleMs,
      now: opts.now,
      logger: opts.logger,
    });
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  get recorded(): number {
    return this.totalRecorded;
  }

  /** Of `recorded`: result files (Datasets) and measurements (Metrics), as status and models count them. */
  get recordedKinds(): { results: number; measurements: number } {
    return { results: this.totalFiles, measurements: this.totalRecorded - this.totalFiles };
  }

  /** Result files read and hashed by this process (catch-up should not re-hash). */
  get hashed(): number {
    return this.filesHashed;
  }

  /** Validate inputs, lock, set up or reopen the workspace, and catch up after a crash. */
  static async open(opts: RecorderOptions): Promise<Recorder> {
    await validateResultsDir(opts.resultsDir);
    await ModelTracker.validate(opts.modelPath);
    const ws = new WorkspaceLayout(opts.workspace, opts.mlmdName);
    const before = await readSettings(ws.settingsFile); // refuses a workspace that is not a folder
    if (before) {
      for (const [flag, was, now] of [
        ['--pipeline', before.pipeline, opts.pipeline],
        ['--stage', before.stage, opts.stage],
        ['--mlmd', before.mlmd, opts.mlmdName],
      ] as const) {
        if (was !== now) {
          throw new UserError(`workspace ${ws.root} records ${flag} ${was}, not ${now}; use another --workspace for a different one`);
        }
      }
    }
    // Refuse a bad mlmd file before the workspace is touched at all.
    const mlmdExists = await fsp.stat(ws.mlmdFile).then(() => true, () => false);
    const loaded = mlmdExists ? await loadMlmd(ws.mlmdFile) : undefined;
    await fsp.mkdir(ws.stateDir, { recursive: true }).catch((err) => {
      throw describeFsError(err, `creating the workspace ${ws.root}`);
    });
    const lock = new WorkspaceLock(ws.lockFile, opts.logger);
    await lock.acquire(opts.command);
    try {
      const { repo } = await ensureWorkspace(ws, {
        dvcRemote: opts.dvcRemote,
        gitRemote: opts.gitRemote,
        logger: opts.logger,
        repairCandidates: loaded ? knownGitCommits(new MlmdStore(loaded.db)) : [],
      });
      await writeSettings(ws.settingsFile, {
        pipeline: opts.pipeline,
        stage: opts.stage,
        mlmd: opts.mlmdName,
        executionType: opts.executionType,
      });
      // Load again if the file changed while we waited for the lock.
      const fresh = loaded && sameStamp(loaded.stamp, await fileStamp(ws.mlmdFile)) ? loaded : await loadMlmd(ws.mlmdFile);
      const { db, stamp } = fresh;
      const rec = new Recorder(opts, new MlmdStore(db), repo, ws, lock);
      rec.mlmdStamp = stamp;
      await rec.recover();
      return rec;
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /** Replay the journal over the last checkpoint, close what a crash left open. */
  private async recover(): Promise<void> {
    const { logger } = this.opts;
    await this.cache.cleanTemps();
    this.state = await loadState(this.ws.stateFile);
    const entries = await this.journal.open();
    if (entries.length > 0) {
      logger.info({ entries: entries.length }, 'replaying the journal after an unclean stop');
      for (const e of entries) await this.rematerialize(e);
      this.applier.apply(entries);
      this.absorbSourceState(entries);
    }
    await this.pruneSealedLeftovers();
    this.liveResults = resultCount(this.store);
    const known = (this.state as SourceState & { model?: KnownModel }).model;
    await this.model.resume(known);
    for (const open of this.applier.openExecutions()) {
      this.open = { entry: open, openedAt: this.now(), lastResultNs: BigInt(open.startNs) };
      await this.closeExecution('recovered after an unclean stop');
    }
    await this.closeStrayRunning();
    // The first model version: wait (bounded) for a file still being written.
    const deadline = this.now() + Math.max(10 * this.opts.settleMs, 30_000);
    while (!this.model.current) {
      const ref = await this.model.poll();
      if (ref) break;
      if (this.now() > deadline) {
        throw new UserError(`model file ${this.opts.modelPath} kept changing for ${Math.round((deadline - this.now()) / 1000 + 30)} s; start again once it is written`);
      }
      await sleep(Math.min(200, this.opts.settleMs));
    }
    await this.writeModelPointer(this.model.current!);
    await this.checkpoint('start');
  }

  /**
   * A crash between writing a segment and the next checkpoint leaves its
   * executions in the live mlmd too; only the newest segment can be affected.
   */
  private async pruneSealedLeftovers(): Promise<void> {
    const newest = await newestSegment(this.ws.root);
    if (!newest) return;
    const ids = newest.manifest.executions.flatMap((u) => this.store.findExecutionsByProperty('Execution_uuid', u));
    if (ids.length === 0) return;
    this.opts.logger.info({ segment: newest.manifest.segment, executions: ids.length }, 'removing executions already sealed');
    pruneExecutions(this.store, ids, 'others');
    this.dirty = true;
  }

  /** Executions left RUNNING in the mlmd with nothing in the journal (journal lost). */
  private async closeStrayRunning(): Promise<void> {
    const ids = this.store.findExecutionsByState(ExecutionState.RUNNING);
    if (ids.length === 0) return;
    const head = await this.repo.head();
    for (const id of ids) {
      const exec = this.store.getExecution(id);
      if (exec?.properties.Context_Type?.value !== `${this.opts.pipeline}/${this.opts.stage}`) continue;
      this.opts.logger.warn({ execution: id }, 'closing an execution a previous run left open');
      this.store.transaction(() =>
        closeExecution(this.store, id, head, { window_end_ns: int(nsFromMs(this.now())) }, this.now()),
      );
      this.dirty = true;
    }
  }

  /** Pointers are derived data: rewrite any that a crash left missing or torn. */
  private async rematerialize(e: Entry): Promise<void> {
    if (e.t === 'file') await this.writePointer(e.path, e.md5, e.size, true);
    if (e.t === 'open') await this.writePointer(e.model.path, e.model.md5, e.model.size, true);
  }

  private absorbSourceState(entries: Entry[]): void {
    for (const e of entries) {
      if (e.t === 'cursor') this.state.cursor = e.cursor;
      if (e.t === 'seen') Object.assign(this.state.seen, e.files);
    }
  }

  /** Write a pointer (atomically). `rewriteOnly`: replay, leave an identical file alone. */
  private async writePointer(workspacePath: string, md5: string, size: number, rewriteOnly = false): Promise<string> {
    const pointer = `${workspacePath}.dvc`;
    const file = this.ws.abs(pointer);
    const dir = path.dirname(file);
    if (!this.ignoredDirs.has(dir)) {
      await fsp.mkdir(dir, { recursive: true });
      await ensureIgnoredDataDir(dir);
      this.ignoredDirs.add(dir);
      this.pendingPointers.set(path.posix.join(path.posix.dirname(workspacePath), '.gitignore'), '');
    }
    const text = renderPointer({ md5, size, path: path.posix.basename(workspacePath) });
    const current = rewriteOnly ? await fsp.readFile(file, 'utf8').catch(() => undefined) : undefined;
    if (current !== text) await writeFileAtomic(file, text, { fsync: false, label: 'pointer' });
    this.pendingPointers.set(pointer, md5);
    return pointer;
  }

  private async writeModelPointer(ref: ModelRef): Promise<void> {
    await this.writePointer(ref.path, ref.md5, ref.size);
  }

  /** Which source reads the results folder (auto: pywaggle once data.ndjson exists). */
  private async resolveSource(): Promise<PywaggleSource | FolderSource> {
    if (this.source?.kind === 'pywaggle') return this.source;
    let kind = this.opts.source;
    if (kind === 'auto') {
      const hasLog = await fsp.stat(path.join(this.opts.resultsDir, 'data.ndjson')).then(() => true, () => false);
      kind = hasLog ? 'pywaggle' : 'dir';
    }
    if (kind === 'pywaggle') {
      this.source = new PywaggleSource(this.opts.resultsDir, this.opts.logger, (n) => n.startsWith(OWN_UPLOAD_PREFIX));
    } else if (!this.source) {
      this.source = new FolderSource(this.opts.resultsDir, this.opts.logger, {
        settleMs: this.opts.settleMs,
        exclude: [this.ws.root, path.resolve(this.opts.dvcRemote)],
        now: this.opts.now,
      });
    }
    return this.source;
  }

  /**
   * Record everything new in the results folder. Returns how many results
   * were recorded and how many files are still settling.
   */
  async poll(): Promise<{ recorded: number; pending: number; more: boolean }> {
    await this.checkModel();
    const source = await this.resolveSource();
    let observations: Observation[];
    let pending = 0;
    let more = false;
    let tail: Entry[] = [];
    if (source instanceof PywaggleSource) {
      const res = await source.read(this.state.cursor);
      observations = res.observations;
      more = res.more;
      if (res.cursor && JSON.stringify(res.cursor) !== JSON.stringify(this.state.cursor)) {
        tail = [{ t: 'cursor', cursor: res.cursor }];
      }
    } else {
      const res = await source.scan(this.state.seen);
      observations = res.observations;
      pending = res.pending;
    }
    if (observations.length === 0 && tail.length === 0) return { recorded: 0, pending, more };
    const recorded = await this.record(observations, tail);
    return { recorded, pending, more };
  }

  private async record(observations: Observation[], tail: Entry[]): Promise<number> {
    const openBefore = this.open;
    try {
      return await this.recordBatch(observations, tail);
    } catch (err) {
      // An execution opened for this batch was never journaled: forget it.
      this.open = openBefore;
      throw err;
    }
  }

  private async recordBatch(observations: Observation[], tail: Entry[]): Promise<number> {
    const entries: Entry[] = [];
    const seen: Record<string, [number, number]> = {};
    const batchKeys = new Set<string>();
    const logLines: { msg: string; obj: Record<string, unknown> }[] = [];
    const t0 = performance.now();
    // Copy new files into the cache concurrently; everything after that is in order.
    const cached = await mapPool(observations, CACHE_CONCURRENCY, async (obs) =>
      obs.kind === 'file' ? this.cacheFile(obs, batchKeys) : undefined,
    );
    const pointers: [string, string, number][] = [];
    for (let i = 0; i < observations.length; i++) {
      const obs = observations[i];
      if (obs.kind === 'file') {
        const c = cached[i];
        if (obs.size !== undefined && obs.mtimeMs !== undefined && this.source?.kind === 'dir' && c !== 'retry') {
          seen[obs.origin] = [obs.size, obs.mtimeMs];
        }
        if (!c || c === 'retry') continue;
        const e = this.fileEntry(obs, c, batchKeys);
        if (!e) continue;
        pointers.push([e.path, e.md5, e.size]);
        entries.push(...(await this.ensureOpen(BigInt(e.tsNs))));
        e.exec = this.open!.entry.uuid;
        entries.push(e);
        const what = obs.origin.startsWith('data.ndjson') ? (e.uploadKey ?? e.filename) : obs.origin;
        logLines.push({ msg: `recorded ${what}`, obj: { md5: e.md5, path: e.path, execution: e.exec } });
      } else {
        const e = this.prepareMeasure(obs, batchKeys);
        if (!e) continue;
        entries.push(...(await this.ensureOpen(BigInt(e.tsNs))));
        e.exec = this.open!.entry.uuid;
        entries.push(e);
      }
    }
    if (Object.keys(seen).length > 0) tail.push({ t: 'seen', files: seen });
    const all = [...entries, ...tail];
    if (all.length === 0) return 0;
    const t1 = performance.now();
    // A new version of a file whose previous pointer is not committed yet:
    // commit that one first, so every version's pointer is in git history.
    if (pointers.some(([p, md5]) => (this.pendingPointers.get(`${p}.dvc`) ?? md5) !== md5)) {
      await this.commitPending('cmf-sage: record results before a new version of one of them');
    }
    // Pointers are derived from the journal (replay rewrites them), so they need no fsync.
    await mapPool(pointers, CACHE_CONCURRENCY, ([p, md5, size]) => this.writePointer(p, md5, size));
    const t2 = performance.now();
    try {
      await this.cache.flush();
      await this.journal.append(all);
    } catch (err) {
      throw describeFsError(err, `writing the journal ${this.journal.file}`);
    }
    const t3 = performance.now();
    this.applier.apply(all);
    this.absorbSourceState(tail);
    const t4 = performance.now();
    this.opts.logger.debug(
      { entries: all.length, cacheMs: t1 - t0, pointerMs: t2 - t1, journalMs: t3 - t2, applyMs: t4 - t3 },
      'batch recorded',
    );
    for (const l of logLines) this.opts.logger.info(l.obj, l.msg);
    let files = 0;
    let results = 0;
    for (const e of entries) {
      if (e.t === 'file') files++;
      if (e.t === 'file' || e.t === 'measure') results++;
    }
    this.totalRecorded += results;
    this.totalFiles += files;
    this.liveResults += results;
    this.dirty = true;
    return results;
  }

  private typeIds(): { dataset: number | undefined; metrics: number | undefined } {
    this.datasetTypeId ??= this.store.findType(TypeKind.ARTIFACT, DATASET_TYPE);
    this.metricsTypeId ??= this.store.findType(TypeKind.ARTIFACT, METRICS_TYPE);
    return { dataset: this.datasetTypeId, metrics: this.metricsTypeId };
  }

  /** Copy a new result into the cache; undefined if its upload is already recorded. */
  private async cacheFile(obs: ResultFile, batchKeys: Set<string>): Promise<CachedFile | undefined | 'retry'> {
    if (obs.uploadKey) {
      if (batchKeys.has(`u:${obs.uploadKey}`)) return undefined;
      if (this.store.findArtifactsByProperty('upload_key', str(obs.uploadKey), true).length > 0) return undefined;
      batchKeys.add(`u:${obs.uploadKey}`);
    }
    try {
      this.filesHashed++;
      return await this.cache.addFile(obs.path);
    } catch (err) {
      if (err instanceof SourceChangedError) {
        this.opts.logger.info({ file: obs.path }, 'file changed while it was copied; will retry');
        return 'retry';
      }
      const code = (err as NodeJS.ErrnoException).code ?? ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
      if (code === 'ENOENT') {
        this.opts.logger.warn({ file: obs.path }, `result file vanished before it could be recorded: ${obs.origin}`);
        return undefined;
      }
      if (err instanceof UserError) throw err;
      throw describeFsError(err, `copying ${obs.path} into the DVC cache`);
    }
  }

  /** The journal entry for a cached file; undefined if that exact file is recorded already. */
  private fileEntry(obs: ResultFile, added: CachedFile, batchKeys: Set<string>): FileEntry | undefined {
    const name = datasetName(obs.workspacePath, added.md5);
    const { dataset } = this.typeIds();
    if (batchKeys.has(`n:${name}`) || (dataset !== undefined && this.store.findArtifactByName(dataset, name) !== undefined)) {
      return undefined;
    }
    batchKeys.add(`n:${name}`);
    return {
      t: 'file',
      exec: '', // set once the execution is known
      timeMs: this.now(),
      md5: added.md5,
      sha1: added.sha1,
      size: added.size,
      path: obs.workspacePath,
      filename: obs.filename,
      tsNs: obs.tsNs.toString(),
      tsExact: obs.tsExact,
      uploadKey: obs.uploadKey,
      meta: obs.meta,
      origin: obs.origin,
    };
  }

  private prepareMeasure(obs: Measurement, batchKeys: Set<string>): MeasureEntry | undefined {
    const key = `m:${obs.name}:${obs.tsNs}:${obs.value.kind}:${String(obs.value.value)}`;
    if (batchKeys.has(key)) return undefined;
    const { metrics } = this.typeIds();
    if (metrics !== undefined) {
      for (const id of this.store.findArtifactsByProperty('timestamp_ns', int(obs.tsNs), true)) {
        const a = this.store.getArtifact(id);
        if (a && a.typeId === metrics && a.customProperties.measurement?.value === obs.name &&
            String(a.customProperties.value?.value) === String(obs.value.value)) {
          return undefined;
        }
      }
    }
    batchKeys.add(key);
    const value: MeasureEntry['value'] =
      obs.value.kind === 'double'
        ? { kind: 'double', value: obs.value.value }
        : { kind: obs.value.kind, value: String(obs.value.value) };
    return {
      t: 'measure',
      exec: '',
      timeMs: this.now(),
      uri: uuidv1(),
      name: obs.name,
      value,
      tsNs: obs.tsNs.toString(),
      tsExact: obs.tsExact,
      timestampText: obs.timestampText,
      meta: obs.meta,
      origin: obs.origin,
    };
  }

  /** The `open` entry to journal first if no execution is open yet. */
  private async ensureOpen(tsNs: bigint): Promise<Entry[]> {
    const out: Entry[] = [];
    if (!this.open) {
      const model = this.model.current!;
      const nowMs = this.now();
      const entry: OpenEntry = {
        t: 'open',
        uuid: uuidv1(),
        timeMs: nowMs,
        startNs: nsFromMs(nowMs).toString(),
        pipeline: this.opts.pipeline,
        stage: this.opts.stage,
        executionType: this.opts.executionType,
        command: this.opts.command,
        gitRepo: this.opts.gitRemote ?? '',
        gitStart: await this.repo.head(),
        remoteUrl: this.opts.dvcRemote,
        model,
        source: this.source?.kind ?? this.opts.source,
        identity: this.opts.identity,
      };
      this.open = { entry, openedAt: nowMs, lastResultNs: tsNs };
      out.push(entry);
    }
    if (tsNs > this.open.lastResultNs) this.open.lastResultNs = tsNs;
    return out;
  }

  /** Time-based duties: close an expired window, pick up a new model, checkpoint. */
  async tick(): Promise<void> {
    if (this.open && this.now() - this.open.openedAt >= this.opts.windowMs) {
      await this.closeExecution('window elapsed');
    }
    await this.checkModel();
    const requested = await fsp.stat(this.ws.sealRequestFile).then(() => true, () => false);
    if (this.liveResults >= this.opts.segmentResults || requested) {
      if (this.open && this.liveResults >= this.opts.segmentResults) await this.closeExecution('segment full');
      await this.seal(requested ? 'push requested it' : 'segment full');
      if (requested) await fsp.rm(this.ws.sealRequestFile, { force: true });
    }
    if (
      this.dirty &&
      (this.now() - this.lastCheckpoint >= this.opts.checkpointMs || this.journal.entries >= this.opts.checkpointEntries)
    ) {
      await this.checkpoint('interval');
    }
  }

  private async checkModel(): Promise<void> {
    const ref = await this.model.poll();
    if (!ref) return;
    this.opts.logger.info({ md5: ref.md5, model: ref.source }, 'new model version');
    if (this.open) await this.closeExecution('model changed');
    await this.writeModelPointer(ref);
    await this.checkpoint('model changed');
  }

  /** Commit the window's pointers, close the execution, checkpoint. */
  async closeExecution(reason: string): Promise<void> {
    const open = this.open;
    if (!open) return;
    const sha = await this.commitPending(`cmf-sage: ${reason}, execution ${open.entry.uuid}`);
    crashPoint('close.committed');
    const close: Entry = { t: 'close', exec: open.entry.uuid, timeMs: this.now(), endNs: nsFromMs(this.now()).toString(), gitEnd: sha };
    await this.journal.append([close]);
    this.applier.apply([close]);
    this.open = undefined;
    this.dirty = true;
    this.opts.logger.info({ execution: open.entry.uuid, gitEnd: sha, reason }, 'execution closed');
    await this.checkpoint('execution closed');
  }

  private async commitPending(message: string): Promise<string> {
    if (this.pendingPointers.size === 0) return this.repo.head();
    const paths = [...this.pendingPointers.keys()].sort();
    const sha = await this.repo.commit(paths, message);
    for (const p of paths) this.pendingPointers.delete(p);
    return sha;
  }

  /**
   * Make everything recorded so far part of the checkpoint: commit pointers,
   * save the mlmd atomically, save source state, then restart the journal
   * with only the open execution's header (so replay still knows it).
   */
  async checkpoint(reason: string): Promise<void> {
    const t0 = performance.now();
    await this.commitPending(`cmf-sage: record results (${reason})`);
    crashPoint('checkpoint.committed');
    const t1 = performance.now();
    try {
      const saved = await saveMlmd(this.store, this.ws.mlmdFile, { expect: this.mlmdStamp });
      this.mlmdStamp = saved.stamp;
      crashPoint('checkpoint.saved');
      const state = { ...this.state, model: this.model.known };
      await saveState(this.ws.stateFile, state as SourceState);
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw describeFsError(err, `saving ${this.ws.mlmdFile}`);
    }
    await this.journal.rewrite(this.open ? [this.open.entry] : []);
    this.lastCheckpoint = this.now();
    this.dirty = false;
    this.opts.logger.debug({ reason, commitMs: t1 - t0, ms: performance.now() - t0 }, 'checkpoint');
  }

  /**
   * Move every closed execution into a new sealed segment and out of the live
   * mlmd, then checkpoint: memory stays bounded however long watch runs.
   */
  async seal(reason: string): Promise<void> {
    const ids = closedExecutions(this.store, `${this.opts.pipeline}/${this.opts.stage}`);
    if (ids.length === 0) return;
    if (this.dirty || this.pendingPointers.size > 0) await this.checkpoint('before sealing');
    const seg = await sealSegment(this.store, ids, {
      root: this.ws.root,
      pipeline: this.opts.pipeline,
      stage: this.opts.stage,
      mlmdName: this.opts.mlmdName,
      now: this.opts.now,
    });
    crashPoint('segment.sealed');
    pruneExecutions(this.store, ids, 'others');
    this.store.db.exec('VACUUM');
    this.liveResults = resultCount(this.store);
    this.dirty = true;
    this.opts.logger.info({ segment: seg.manifest.segment, executions: ids.length, reason, counts: seg.manifest.counts }, 'segment sealed');
    await this.checkpoint('sealed');
  }

  /** Clean stop: close the open execution, checkpoint, release the lock. */
  async shutdown(): Promise<void> {
    try {
      if (this.open) await this.closeExecution('stopped');
      else if (this.dirty) await this.checkpoint('stopped');
    } finally {
      await this.journal.close();
      await this.lock.release();
    }
  }

  /** The source in use once resolved ('pywaggle' or 'dir'). */
  get sourceKind(): string | undefined {
    return this.source?.kind;
  }

  /** Whether an execution is open (tests and --once). */
  get hasOpenExecution(): boolean {
    return this.open !== undefined;
  }

  get modelSettling(): boolean {
    return this.model.settling;
  }
}

async function validateResultsDir(dir: string): Promise<void> {
  let st;
  try {
    st = await fsp.stat(dir);
  } catch {
    throw new UserError(`results folder ${dir} does not exist; create it or pass the plugin's output folder with --results`);
  }
  if (!st.isDirectory()) throw new UserError(`results path ${dir} is not a folder; pass the plugin's output folder with --results`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

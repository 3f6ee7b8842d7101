import { int, str, dbl, type MlmdStore, type Value } from '../mlmd/index.js';
import { ensurePipelineContexts, type PipelineContexts } from '../cmf/contexts.js';
import {
  closeExecution,
  findExecution,
  linkModelInput,
  openExecution,
  recordDatasetOutput,
  recordMetric,
} from '../cmf/lineage.js';
import { artifactUrl } from '../cmf/names.js';
import { remoteObjectUrl } from '../dvc/config.js';
import { isoFromNs } from '../sources/timestamp.js';
import type { Entry, FileEntry, MeasureEntry, OpenEntry } from './entries.js';

/**
 * Turns journal entries into MLMD rows with cmflib's conventions. Applying an
 * entry that is already in the store changes nothing, so a checkpoint plus
 * the journal always replays to the same database.
 */
export class Applier {
  private readonly executions = new Map<string, { id: number; ctx: PipelineContexts; open: OpenEntry }>();

  constructor(
    private readonly store: MlmdStore,
    /** Told about an entry that could not be applied (it is skipped). */
    private readonly onError: (entry: Entry, err: Error) => void = () => undefined,
  ) {}

  /** Apply entries in one transaction; returns what was new. */
  apply(entries: Entry[]): { files: number; measures: number } {
    let files = 0;
    let measures = 0;
    this.store.transaction(() => {
      for (const e of entries) {
        // Each entry in its own savepoint: one that cannot be applied is
        // skipped whole instead of making the journal unreplayable.
        try {
          this.store.transaction(() => {
            switch (e.t) {
              case 'open':
                this.open(e);
                break;
              case 'file':
                if (this.file(e)) files++;
                break;
              case 'measure':
                this.measure(e);
                measures++;
                break;
              case 'close':
                this.close(e.exec, e.gitEnd, e.endNs, e.timeMs);
                break;
              default:
                break; // cursor / seen entries are source state, not lineage
            }
          });
        } catch (err) {
          this.onError(e, err as Error);
        }
      }
    });
    return { files, measures };
  }

  private open(e: OpenEntry): void {
    const ctx = ensurePipelineContexts(this.store, e.pipeline, e.stage, e.timeMs);
    const custom: Record<string, Value> = {
      window_start_ns: int(BigInt(e.startNs)),
      source: str(e.source),
      sidecar_version: str(e.identity.sidecar_version ?? ''),
    };
    for (const [k, v] of Object.entries(e.identity)) if (k !== 'sidecar_version') custom[k] = str(v);
    const id = openExecution(this.store, ctx, {
      uuid: e.uuid,
      executionType: e.executionType,
      command: e.command,
      gitRepo: e.gitRepo,
      gitStart: e.gitStart,
      customProperties: custom,
      timeMs: e.timeMs,
    });
    linkModelInput(this.store, ctx, id, {
      path: e.model.path,
      md5: e.model.md5,
      url: artifactUrl(e.pipeline, remoteObjectUrl(e.remoteUrl, e.model.md5)),
      gitRepo: e.gitRepo,
      framework: e.model.framework,
      type: e.model.type,
      name: e.model.name,
      customProperties: {
        source_path: str(e.model.source),
        size: int(e.model.size),
        sha1: str(e.model.sha1),
      },
      timeMs: e.timeMs,
    });
    this.executions.set(e.uuid, { id, ctx, open: e });
  }

  private exec(uuid: string) {
    const known = this.executions.get(uuid);
    if (known) return known;
    throw new Error(`journal entry refers to execution ${uuid}, which was never opened`);
  }

  private file(e: FileEntry): boolean {
    const { id, ctx, open } = this.exec(e.exec);
    const ts = BigInt(e.tsNs);
    const custom: Record<string, Value> = {
      timestamp_ns: int(ts),
      timestamp: str(isoFromNs(ts)),
      filename: str(e.filename),
      sha1: str(e.sha1),
      size: int(e.size),
      origin: str(e.origin),
    };
    if (!e.tsExact) custom.timestamp_source = str('mtime');
    if (e.uploadKey) custom.upload_key = str(e.uploadKey);
    for (const [k, v] of Object.entries(e.meta)) custom[`meta.${k}`] = str(v);
    return recordDatasetOutput(this.store, ctx, id, {
      path: e.path,
      md5: e.md5,
      url: artifactUrl(open.pipeline, remoteObjectUrl(open.remoteUrl, e.md5)),
      gitRepo: open.gitRepo,
      customProperties: custom,
      timeMs: e.timeMs,
    }).created;
  }

  private measure(e: MeasureEntry): void {
    const { id, ctx } = this.exec(e.exec);
    const ts = BigInt(e.tsNs);
    const value: Value =
      e.value.kind === 'int'
        ? int(BigInt(e.value.value))
        : e.value.kind === 'double'
          ? dbl(e.value.value)
          : str(e.value.value);
    const custom: Record<string, Value> = {
      measurement: str(e.name),
      value,
      timestamp_ns: int(ts),
      timestamp: str(isoFromNs(ts)),
      timestamp_text: str(e.timestampText),
      origin: str(e.origin),
    };
    if (!e.tsExact) custom.timestamp_source = str('ndjson');
    for (const [k, v] of Object.entries(e.meta)) custom[`meta.${k}`] = str(v);
    recordMetric(this.store, ctx, id, { measurement: e.name, uri: e.uri, customProperties: custom, timeMs: e.timeMs });
  }

  private close(uuid: string, gitEnd: string, endNs: string, timeMs: number): void {
    const id = this.executions.get(uuid)?.id ?? findExecution(this.store, uuid);
    if (id === undefined) throw new Error(`journal closes execution ${uuid}, which was never opened`);
    closeExecution(this.store, id, gitEnd, { window_end_ns: int(BigInt(endNs)) }, timeMs);
    this.executions.delete(uuid);
  }

  /** Executions opened and not yet closed (after replay: the ones a crash left open). */
  openExecutions(): OpenEntry[] {
    return [...this.executions.values()].map((x) => x.open);
  }
}

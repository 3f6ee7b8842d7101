import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../fsutil/atomic.js';
import { crashPoint } from '../faults.js';

/**
 * `delivery.json` in a segment folder: where the segment has been delivered,
 * one state machine per target. Every transition is written atomically
 * (temp + fsync + rename + dir fsync) before the side effect that follows it,
 * so after a crash the file says exactly which step to redo:
 *
 *   (none) ──► prepared{ts,sha1,archive} ──► staging ──► staged ──► confirmed   waggle
 *   (none) ──► prepared ──► copied ──► confirmed                                logdir
 *   (none) ──► prepared ──► confirmed                                           dir:
 *
 * `ts` (the upload's ns timestamp, which names the upload) is chosen once, in
 * `prepared`, and never changed, so a retry re-sends the same name and message.
 */

export type Phase = 'prepared' | 'staging' | 'staged' | 'copied' | 'confirmed';

export interface TargetState {
  phase: Phase;
  /** ns timestamp as decimal text (exceeds 2^53). */
  ts: string;
  sha1: string;
  size: number;
  archive: string;
  /** Where it went: the upload folder, the logdir copy or the file in dir:. */
  location: string;
  preparedAt: string;
  stagedAt?: string;
  confirmedAt?: string;
  /** Times the message was handed to the broker (waggle); > 1 means a possible duplicate. */
  publishes?: number;
}

export interface DeliveryFile {
  segment: string;
  targets: Record<string, TargetState>;
}

export function deliveryFile(segDir: string): string {
  return path.join(segDir, 'delivery.json');
}

export async function readDelivery(segDir: string, segment: string): Promise<DeliveryFile> {
  let text: string;
  try {
    text = await fsp.readFile(deliveryFile(segDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { segment, targets: {} };
    throw err;
  }
  const doc = JSON.parse(text) as DeliveryFile;
  if (!doc || typeof doc.targets !== 'object') return { segment, targets: {} };
  return doc;
}

/**
 * Keeps one segment's delivery file in memory and writes every change
 * through atomically, passing a crash point right after each write (the
 * durability tests kill the process there).
 */
export class DeliveryState {
  private constructor(
    private readonly segDir: string,
    private doc: DeliveryFile,
  ) {}

  static async load(segDir: string, segment: string): Promise<DeliveryState> {
    return new DeliveryState(segDir, await readDelivery(segDir, segment));
  }

  get(target: string): TargetState | undefined {
    return this.doc.targets[target];
  }

  /** Write `state` for `target`; then pass crash point `point` (default `push.<phase>`). */
  async set(target: string, state: TargetState, point = `push.${state.phase}`): Promise<void> {
    this.doc = { ...this.doc, targets: { ...this.doc.targets, [target]: state } };
    await writeFileAtomic(deliveryFile(this.segDir), JSON.stringify(this.doc, null, 1) + '\n');
    crashPoint(point);
  }
}

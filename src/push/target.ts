import type { Logger } from '../log.js';
import type { BuiltArchive } from './archive.js';
import type { DeliveryState, TargetState } from './delivery-state.js';
import type { Segment } from './segments.js';

/** Where `push --to` delivers. */
export type TargetKind = 'waggle' | 'logdir' | 'dir';

/** What a target needs for one segment. */
export interface DeliveryContext {
  segment: Segment;
  state: DeliveryState;
  /** The segment's `prepared` state (ts chosen, archive digest known). */
  prepared: TargetState;
  /** The archive file, built on demand (only steps before the first visible write need it). */
  archive(): Promise<BuiltArchive>;
  logger: Logger;
}

export interface Target {
  readonly kind: TargetKind;
  /** Names the target in delivery.json: kind plus absolute location. */
  readonly key: string;
  /** For people: where things go. */
  readonly where: string;
  /**
   * Read-only: refuse, before push seals or writes anything (and in a dry
   * run), what cannot work: a missing upload path or app id, a target that
   * is a file or lies inside the workspace `root`.
   */
  preflight(root: string): Promise<void>;
  /** Fail early, before anything is written, when delivery cannot work; may create the target's folders. */
  check(): Promise<void>;
  /** Where this segment's upload lands (stored in the prepared state). */
  locationFor(ts: bigint, sha1: string, archive: string): string;
  /** Run the target's state machine from `ctx.prepared` to `confirmed`. */
  deliver(ctx: DeliveryContext): Promise<TargetState>;
  /** Release connections. */
  close(): Promise<void>;
}

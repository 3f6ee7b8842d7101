import { EventType } from './enums.js';
import type { Statements } from './sqljs.js';
import { checkId, checkMs } from './time.js';

export interface NewEvent {
  artifactId: number;
  executionId: number;
  type: EventType;
  /** Event time; null/undefined stores NULL (there is no hidden clock). */
  timeMs?: number | null;
  /** One key step of the event path, e.g. the artifact's role. */
  pathKey?: string;
}

/** Event, EventPath, Attribution and Association rows: all idempotent. */
export class Links {
  constructor(private readonly q: Statements) {}

  /**
   * Returns false (writing nothing) if an event with the same (artifact,
   * execution, type) exists: that triple is UNIQUE, and re-runs must not fail
   * on it (field fault B07).
   */
  putEvent(e: NewEvent): boolean {
    checkId(e.artifactId, 'putEvent artifactId');
    checkId(e.executionId, 'putEvent executionId');
    if (!(e.type >= EventType.DECLARED_OUTPUT && e.type <= EventType.PENDING_OUTPUT) || !Number.isInteger(e.type)) {
      throw new RangeError(`putEvent: event type ${e.type} is not one of 1..7`);
    }
    const time = e.timeMs === undefined || e.timeMs === null ? null : checkMs(e.timeMs, 'putEvent');
    // Look first rather than INSERT ... ON CONFLICT DO NOTHING: a refused insert still advances the
    // AUTOINCREMENT sequence, leaving gaps in the ids.
    if (this.q.one('SELECT 1 FROM Event WHERE artifact_id = ? AND execution_id = ? AND type = ?', [e.artifactId, e.executionId, e.type])) {
      return false;
    }
    const row = this.q.one(
      'INSERT INTO Event (artifact_id, execution_id, type, milliseconds_since_epoch) VALUES (?, ?, ?, ?) RETURNING id',
      [e.artifactId, e.executionId, e.type, time],
    )!;
    if (e.pathKey !== undefined) {
      this.q.run('INSERT INTO EventPath (event_id, is_index_step, step_index, step_key) VALUES (?, 0, NULL, ?)', [Number(row[0]), e.pathKey]);
    }
    return true;
  }

  /** Any event joining the two, whatever its type (served by the Event unique index). */
  hasAnyEvent(artifactId: number, executionId: number): boolean {
    return this.q.one('SELECT 1 FROM Event WHERE artifact_id = ? AND execution_id = ? LIMIT 1', [artifactId, executionId]) !== undefined;
  }

  /** Returns false if already present. */
  putAttribution(contextId: number, artifactId: number): boolean {
    checkId(contextId, 'putAttribution contextId');
    checkId(artifactId, 'putAttribution artifactId');
    if (this.q.one('SELECT 1 FROM Attribution WHERE context_id = ? AND artifact_id = ?', [contextId, artifactId])) return false;
    this.q.run('INSERT INTO Attribution (context_id, artifact_id) VALUES (?, ?)', [contextId, artifactId]);
    return true;
  }

  /** Returns false if already present. */
  putAssociation(contextId: number, executionId: number): boolean {
    checkId(contextId, 'putAssociation contextId');
    checkId(executionId, 'putAssociation executionId');
    if (this.q.one('SELECT 1 FROM Association WHERE context_id = ? AND execution_id = ?', [contextId, executionId])) return false;
    this.q.run('INSERT INTO Association (context_id, execution_id) VALUES (?, ?)', [contextId, executionId]);
    return true;
  }
}

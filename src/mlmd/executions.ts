import { ExecutionState, TypeKind } from './enums.js';
import { EXECUTION_PROPS, checkDeclared, findByProperty, readProperties, writeProperties, type Properties } from './properties.js';
import type { Statements } from './sqljs.js';
import { checkMs } from './time.js';
import type { TypeRegistry } from './types.js';
import { str } from './value.js';

export interface NewExecution {
  typeId: number;
  name?: string | null;
  state?: ExecutionState;
  properties?: Properties;
  customProperties?: Properties;
  nowMs: number;
}

export interface ExecutionUpdate {
  state?: ExecutionState;
  properties?: Properties;
  customProperties?: Properties;
  nowMs: number;
}

export interface ExecutionRecord {
  id: number;
  typeId: number;
  typeName: string | null;
  name: string | null;
  state: ExecutionState | null;
  createTimeMs: number;
  lastUpdateTimeMs: number;
  properties: Properties;
  customProperties: Properties;
}

export class Executions {
  constructor(
    private readonly q: Statements,
    private readonly types: TypeRegistry,
  ) {}

  create(e: NewExecution): number {
    const what = `createExecution(${e.name ?? 'unnamed'})`;
    const type = this.types.require(e.typeId, TypeKind.EXECUTION, what);
    checkDeclared(type, e.properties, what);
    const now = checkMs(e.nowMs, what);
    const id = Number(
      this.q.one(
        'INSERT INTO Execution (type_id, last_known_state, name, create_time_since_epoch, last_update_time_since_epoch) ' +
          'VALUES (?, ?, ?, ?, ?) RETURNING id',
        [e.typeId, e.state ?? null, e.name ?? null, now, now],
      )![0],
    );
    writeProperties(this.q, EXECUTION_PROPS, id, e.properties, false);
    writeProperties(this.q, EXECUTION_PROPS, id, e.customProperties, true);
    return id;
  }

  update(id: number, u: ExecutionUpdate): void {
    const what = `updateExecution(${id})`;
    const row = this.q.one('SELECT type_id FROM Execution WHERE id = ?', [id]);
    if (!row) throw new Error(`${what}: no execution with id ${id}`);
    checkDeclared(this.types.require(Number(row[0]), TypeKind.EXECUTION, what), u.properties, what);
    const now = checkMs(u.nowMs, what);
    if (u.state !== undefined) {
      this.q.run('UPDATE Execution SET last_known_state = ?, last_update_time_since_epoch = ? WHERE id = ?', [u.state, now, id]);
    } else {
      this.q.run('UPDATE Execution SET last_update_time_since_epoch = ? WHERE id = ?', [now, id]);
    }
    writeProperties(this.q, EXECUTION_PROPS, id, u.properties, false);
    writeProperties(this.q, EXECUTION_PROPS, id, u.customProperties, true);
  }

  /** Executions in this state (a scan of Execution: use at startup, not per result). */
  findByState(state: ExecutionState): number[] {
    return this.q.ids('SELECT id FROM Execution WHERE last_known_state = ? ORDER BY id', [state]);
  }

  findByProperty(name: string, value: string, isCustom = false): number[] {
    return findByProperty(this.q, EXECUTION_PROPS, name, str(value), isCustom);
  }

  get(id: number): ExecutionRecord | undefined {
    const row = this.q.one(
      'SELECT e.type_id, t.name, e.name, e.last_known_state, e.create_time_since_epoch, e.last_update_time_since_epoch ' +
        'FROM Execution e LEFT JOIN Type t ON t.id = e.type_id WHERE e.id = ?',
      [id],
    );
    if (!row) return undefined;
    const [typeId, typeName, name, state, created, updated] = row;
    return {
      id,
      typeId: Number(typeId),
      typeName: typeName === null ? null : String(typeName),
      name: name === null ? null : String(name),
      state: state === null ? null : (Number(state) as ExecutionState),
      createTimeMs: Number(created),
      lastUpdateTimeMs: Number(updated),
      ...readProperties(this.q, EXECUTION_PROPS, id),
    };
  }
}

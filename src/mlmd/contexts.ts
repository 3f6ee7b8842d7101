import { TypeKind } from './enums.js';
import { CONTEXT_PROPS, checkDeclared, writeProperties, type Properties } from './properties.js';
import type { Statements } from './sqljs.js';
import { checkId, checkMs } from './time.js';
import type { TypeRegistry } from './types.js';

export interface NewContext {
  typeId: number;
  name: string;
  properties?: Properties;
  customProperties?: Properties;
  nowMs: number;
}

export class Contexts {
  constructor(
    private readonly q: Statements,
    private readonly types: TypeRegistry,
  ) {}

  /** Served by the UNIQUE(type_id, name) index. */
  find(typeId: number, name: string): number | undefined {
    return this.q.id('SELECT id FROM Context WHERE type_id = ? AND name = ?', [typeId, name]);
  }

  /** Every context with this name, whatever its type (a scan: Context has no index on name alone, but a store holds few contexts). */
  findByName(name: string): { id: number; typeId: number }[] {
    return this.q.all('SELECT id, type_id FROM Context WHERE name = ? ORDER BY id', [name]).map((r) => ({ id: Number(r[0]), typeId: Number(r[1]) }));
  }

  create(c: NewContext): number {
    // The library rejects empty context names ("Context name should not be empty").
    if (!c.name) throw new Error('createContext: a context needs a non-empty name');
    const type = this.types.require(c.typeId, TypeKind.CONTEXT, `createContext(${c.name})`);
    checkDeclared(type, c.properties, `createContext(${c.name})`);
    const now = checkMs(c.nowMs, 'createContext');
    const id = Number(
      this.q.one(
        'INSERT INTO Context (type_id, name, create_time_since_epoch, last_update_time_since_epoch) VALUES (?, ?, ?, ?) RETURNING id',
        [c.typeId, c.name, now, now],
      )![0],
    );
    writeProperties(this.q, CONTEXT_PROPS, id, c.properties, false);
    writeProperties(this.q, CONTEXT_PROPS, id, c.customProperties, true);
    return id;
  }

  /**
   * ParentContext row (context_id = child). Returns false if it was already
   * there. Refuses a cycle, which the library only checks on its own inserts.
   */
  putParent(childId: number, parentId: number): boolean {
    checkId(childId, 'putParentContext child');
    checkId(parentId, 'putParentContext parent');
    if (childId === parentId) throw new Error(`putParentContext: context ${childId} cannot be its own parent`);
    const exists = this.q.one('SELECT 1 FROM ParentContext WHERE context_id = ? AND parent_context_id = ?', [childId, parentId]);
    if (exists) return false;
    const cycle = this.q.one(
      'WITH RECURSIVE up(id) AS (SELECT ? UNION SELECT parent_context_id FROM ParentContext JOIN up ON context_id = up.id) ' +
        'SELECT 1 FROM up WHERE id = ? LIMIT 1',
      [parentId, childId],
    );
    if (cycle) throw new Error(`putParentContext: making ${parentId} a parent of ${childId} would create a cycle`);
    this.q.run('INSERT INTO ParentContext (context_id, parent_context_id) VALUES (?, ?)', [childId, parentId]);
    return true;
  }
}

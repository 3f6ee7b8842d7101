import { PropertyType, TypeKind } from './enums.js';
import type { Statements } from './sqljs.js';

export interface TypeInfo {
  id: number;
  name: string;
  kind: TypeKind;
  /** Declared properties (TypeProperty rows). */
  properties: Map<string, PropertyType>;
}

const VALID_PROPERTY_TYPES = new Set([1, 2, 3, 4, 5, 6]);

/**
 * Type rows and their declared properties, cached by id so the write path can
 * validate node kinds and declared properties without extra queries. The
 * cache must be dropped on ROLLBACK (ids can be reused after one).
 */
export class TypeRegistry {
  private readonly byId = new Map<number, TypeInfo>();
  constructor(private readonly q: Statements) {}

  clearCache(): void {
    this.byId.clear();
  }

  /** Identity is (name, version, kind) with version NULL, as the library looks it up. */
  findType(kind: TypeKind, name: string): number | undefined {
    return this.q.id(
      'SELECT id FROM Type WHERE name = ? AND version IS NULL AND type_kind = ? ORDER BY id LIMIT 1',
      [name, kind],
    );
  }

  getOrCreateType(kind: TypeKind, name: string, properties: Record<string, PropertyType>): number {
    if (!name) throw new Error('getOrCreateType: a type needs a non-empty name');
    for (const [p, t] of Object.entries(properties)) {
      if (!VALID_PROPERTY_TYPES.has(t)) throw new Error(`getOrCreateType(${name}): property ${p} has invalid PropertyType ${t}`);
    }
    let id = this.findType(kind, name);
    if (id === undefined) {
      id = Number(this.q.one('INSERT INTO Type (name, type_kind) VALUES (?, ?) RETURNING id', [name, kind])![0]);
    }
    const info = this.info(id)!;
    for (const [p, t] of Object.entries(properties)) {
      const have = info.properties.get(p);
      if (have === t) continue;
      if (have !== undefined) {
        throw new Error(`type ${name} (id ${id}) already declares property ${p} as ${PropertyType[have] ?? have}, not ${PropertyType[t]}`);
      }
      this.q.run('INSERT INTO TypeProperty (type_id, name, data_type) VALUES (?, ?, ?)', [id, p, t]);
      info.properties.set(p, t);
    }
    return id;
  }

  /** The type with this id, or undefined if there is none. */
  info(id: number): TypeInfo | undefined {
    const cached = this.byId.get(id);
    if (cached) return cached;
    const row = this.q.one('SELECT name, type_kind FROM Type WHERE id = ?', [id]);
    if (!row) return undefined;
    const properties = new Map<string, PropertyType>();
    for (const [n, t] of this.q.all('SELECT name, data_type FROM TypeProperty WHERE type_id = ?', [id])) {
      properties.set(String(n), Number(t) as PropertyType);
    }
    const info: TypeInfo = { id, name: String(row[0]), kind: Number(row[1]) as TypeKind, properties };
    this.byId.set(id, info);
    return info;
  }

  /** The type, checked to be of `kind`: a node of the wrong kind is invisible to the library. */
  require(id: number, kind: TypeKind, what: string): TypeInfo {
    const info = this.info(id);
    if (!info) throw new Error(`${what}: no type with id ${id}`);
    if (info.kind !== kind) {
      throw new Error(`${what}: type ${info.name} (id ${id}) is a ${TypeKind[info.kind]} type, not ${TypeKind[kind]}`);
    }
    return info;
  }
}

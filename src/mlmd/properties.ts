import type { Statements } from './sqljs.js';
import type { TypeInfo } from './types.js';
import { PropertyType } from './enums.js';
import { propertyTypeOf, valueColumns, valueFromRow, type Value } from './value.js';

export type Properties = Record<string, Value>;

/** One of the three <Node>Property tables. */
export interface PropertyTable {
  table: 'ArtifactProperty' | 'ExecutionProperty' | 'ContextProperty';
  idColumn: 'artifact_id' | 'execution_id' | 'context_id';
}

export const ARTIFACT_PROPS: PropertyTable = { table: 'ArtifactProperty', idColumn: 'artifact_id' };
export const EXECUTION_PROPS: PropertyTable = { table: 'ExecutionProperty', idColumn: 'execution_id' };
export const CONTEXT_PROPS: PropertyTable = { table: 'ContextProperty', idColumn: 'context_id' };

/**
 * The library refuses later updates of a node whose declared properties are
 * not in TypeProperty or have another type, so refuse them up front.
 */
export function checkDeclared(type: TypeInfo, props: Properties | undefined, what: string): void {
  if (!props) return;
  for (const [name, v] of Object.entries(props)) {
    const declared = type.properties.get(name);
    if (declared === undefined) {
      throw new Error(`${what}: property ${name} is not declared by type ${type.name}; declare it or pass it as a custom property`);
    }
    if (declared !== propertyTypeOf(v)) {
      throw new Error(`${what}: property ${name} of type ${type.name} is ${PropertyType[declared]}, got a ${v.kind} value`);
    }
  }
}

/**
 * Insert or replace property rows; the upsert clears every other value column
 * so exactly one stays non-NULL.
 */
export function writeProperties(q: Statements, t: PropertyTable, nodeId: number, props: Properties | undefined, isCustom: boolean): void {
  if (!props) return;
  const sql =
    `INSERT INTO ${t.table} (${t.idColumn}, name, is_custom_property, int_value, double_value, string_value) ` +
    `VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (${t.idColumn}, name, is_custom_property) DO UPDATE SET ` +
    'int_value = excluded.int_value, double_value = excluded.double_value, string_value = excluded.string_value, ' +
    'byte_value = NULL, proto_value = NULL, bool_value = NULL';
  for (const [name, v] of Object.entries(props)) {
    if (!name) throw new Error(`${t.table}: a property needs a non-empty name`);
    q.run(sql, [nodeId, name, isCustom ? 1 : 0, ...valueColumns(v)]);
  }
}

export function readProperties(q: Statements, t: PropertyTable, nodeId: number): { properties: Properties; customProperties: Properties } {
  const properties: Properties = {};
  const customProperties: Properties = {};
  const rows = q.all(
    `SELECT name, is_custom_property, int_value, double_value, string_value, proto_value, bool_value FROM ${t.table} WHERE ${t.idColumn} = ?`,
    [nodeId],
  );
  for (const [name, isCustom, i, d, s, p, b] of rows) {
    const v = valueFromRow(i, d, s, p, b);
    if (v === undefined) continue; // an all-NULL row carries no value
    (Number(isCustom) ? customProperties : properties)[String(name)] = v;
  }
  return { properties, customProperties };
}

/** Node ids having property `name` equal to `value`; served by idx_<node>_property_<kind>. */
export function findByProperty(q: Statements, t: PropertyTable, name: string, value: Value, isCustom: boolean): number[] {
  const column = `${value.kind}_value`;
  const [i, d, s] = valueColumns(value);
  return q.ids(
    `SELECT ${t.idColumn} FROM ${t.table} WHERE name = ? AND is_custom_property = ? AND ${column} = ? ORDER BY ${t.idColumn}`,
    [name, isCustom ? 1 : 0, i ?? d ?? s],
  );
}

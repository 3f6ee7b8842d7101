import { PropertyType } from './enums.js';

/**
 * A typed property value. JS numbers cannot tell an int from a double, and
 * MLMD ints are int64, so ints are carried as bigint.
 */
export type Value =
  | { kind: 'int'; value: bigint }
  | { kind: 'double'; value: number }
  | { kind: 'string'; value: string };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** An int64 value. Numbers must be safe integers (beyond 2^53 pass a bigint). */
export const int = (v: bigint | number): Value => {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new RangeError(`int(): ${v} is not a safe integer; pass a bigint`);
    v = BigInt(v);
  }
  if (v < INT64_MIN || v > INT64_MAX) throw new RangeError(`int(): ${v} does not fit in int64`);
  return { kind: 'int', value: v };
};

/**
 * A double value. NaN/±Infinity are refused: SQLite stores NaN as NULL (which
 * breaks every MLMD read of the node), so the caller stores such values as a
 * string ("NaN", "Infinity") instead.
 */
export const dbl = (v: number): Value => {
  if (!Number.isFinite(v)) throw new RangeError(`dbl(): ${v} cannot be stored as a REAL; store it as str('${v}')`);
  return { kind: 'double', value: v };
};

export const str = (v: string): Value => {
  if (typeof v !== 'string') throw new TypeError(`str(): expected a string, got ${typeof v}`);
  return { kind: 'string', value: v };
};

/** The PropertyType a declared property of this value must have. */
export function propertyTypeOf(v: Value): PropertyType {
  switch (v.kind) {
    case 'int':
      return PropertyType.INT;
    case 'double':
      return PropertyType.DOUBLE;
    case 'string':
      return PropertyType.STRING;
  }
}

/** The three value columns for a property row: exactly one is non-NULL. */
export function valueColumns(v: Value): [bigint | null, number | null, string | null] {
  switch (v.kind) {
    case 'int':
      return [v.value, null, null];
    case 'double':
      if (!Number.isFinite(v.value)) throw new RangeError(`double property ${v.value} cannot be stored as a REAL`);
      return [null, v.value, null];
    case 'string':
      return [null, null, v.value];
  }
}

/**
 * Read a property row the way the library does: the first non-NULL column of
 * int, double, string, proto, bool wins. proto_value (base64 text) is returned
 * as a string and bool_value as an int 0/1, since Value has no such kinds.
 */
export function valueFromRow(
  intValue: unknown,
  doubleValue: unknown,
  stringValue: unknown,
  protoValue: unknown,
  boolValue: unknown,
): Value | undefined {
  if (intValue !== null && intValue !== undefined) return { kind: 'int', value: BigInt(intValue as bigint | number) };
  if (doubleValue !== null && doubleValue !== undefined) return { kind: 'double', value: Number(doubleValue) };
  if (stringValue !== null && stringValue !== undefined) return { kind: 'string', value: String(stringValue) };
  if (protoValue !== null && protoValue !== undefined) {
    const s = protoValue instanceof Uint8Array ? Buffer.from(protoValue).toString('utf8') : String(protoValue);
    return { kind: 'string', value: s };
  }
  if (boolValue !== null && boolValue !== undefined) return { kind: 'int', value: BigInt(boolValue as bigint | number) };
  return undefined;
}

export function valuesEqual(a: Value, b: Value): boolean {
  return a.kind === b.kind && a.value === b.value;
}

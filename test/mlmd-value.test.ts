import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dbl, int, str, valuesEqual } from '../src/mlmd/index.js';
import { valueColumns, valueFromRow } from '../src/mlmd/value.js';

test('int/dbl/str build typed values and put each in exactly one column', () => {
  assert.deepEqual(int(5), { kind: 'int', value: 5n });
  assert.deepEqual(int(-(2n ** 63n)), { kind: 'int', value: -(2n ** 63n) });
  assert.deepEqual(valueColumns(int(1796312080879783945n)), [1796312080879783945n, null, null]);
  assert.deepEqual(valueColumns(dbl(2)), [null, 2, null]);
  assert.deepEqual(valueColumns(str('')), [null, null, '']);
  assert.throws(() => int(1.5), RangeError);
  assert.throws(() => dbl(Infinity), RangeError);
  assert.throws(() => dbl(-Infinity), RangeError);
  assert.ok(valuesEqual(int(2), int(2n)));
  assert.ok(!valuesEqual(int(2), dbl(2)));
});

test('reading a row follows the library order: int, double, string, proto, bool', () => {
  assert.deepEqual(valueFromRow(3n, 1.5, 'x', null, null), { kind: 'int', value: 3n });
  assert.deepEqual(valueFromRow(null, 1.5, 'x', null, null), { kind: 'double', value: 1.5 });
  assert.deepEqual(valueFromRow(null, null, 'x', null, 1n), { kind: 'string', value: 'x' });
  assert.deepEqual(valueFromRow(null, null, null, 'YmFzZTY0', null), { kind: 'string', value: 'YmFzZTY0' });
  assert.deepEqual(valueFromRow(null, null, null, null, 1n), { kind: 'int', value: 1n });
  assert.equal(valueFromRow(null, null, null, null, null), undefined);
});

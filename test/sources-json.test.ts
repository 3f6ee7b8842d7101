import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJson, JsonNumber, isObject } from '../src/sources/json.js';

test('numbers keep their lexeme: 1.0 stays a float, ns stays exact', () => {
  const v = parseJson('{"a":1.0,"b":1796312080879783945,"c":-2.5e-3,"d":7}');
  assert.ok(isObject(v));
  const a = v.a as JsonNumber;
  const b = v.b as JsonNumber;
  assert.equal(a.raw, '1.0');
  assert.equal(a.isInteger, false);
  assert.equal(b.toBigInt(), 1796312080879783945n);
  assert.equal(b.isInteger, true);
  assert.equal((v.c as JsonNumber).toNumber(), -0.0025);
  assert.equal((v.d as JsonNumber).isInteger, true);
});

test("Python's NaN and Infinity tokens are accepted", () => {
  const v = parseJson('[NaN, Infinity, -Infinity]') as JsonNumber[];
  assert.deepEqual(v.map((n) => n.raw), ['NaN', 'Infinity', '-Infinity']);
  assert.equal(v[0].isFinite, false);
});

test('strings: escapes, \\u sequences and surrogate pairs', () => {
  assert.equal(parseJson('"a\\"b\\\\c\\n\\u00fc\\ud83d\\ude00"'), 'a"b\\c\nü😀');
});

test('malformed input is rejected with a position', () => {
  for (const bad of ['{"a":}', '{"a":1', '[1,]', '{"a" 1}', 'tru', '"abc', '{"a":1} x', '01', '"\u0001"']) {
    assert.throws(() => parseJson(bad), /at character \d+/, bad);
  }
});

test('deep nesting is refused instead of overflowing the stack', () => {
  assert.throws(() => parseJson('['.repeat(10000) + ']'.repeat(10000)), /nesting too deep/);
});

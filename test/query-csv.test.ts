import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvField, toCsv } from '../src/query/csv.js';
import { python } from './helpers.js';

test('RFC 4180: quoted only when needed, quotes doubled, CRLF line ends', () => {
  assert.equal(csvField('plain.jpg'), 'plain.jpg');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField('cr\rhere'), '"cr\rhere"');
  assert.equal(csvField(null), '');
  assert.equal(csvField(1796312080879783945n), '1796312080879783945');
  assert.equal(toCsv(['a', 'b'], [['1', 'x,y']]), 'a,b\r\n1,"x,y"\r\n');
});

test("Python's csv module reads back every awkward name exactly", async () => {
  const names = ['comma, inside.jpg', 'quote " inside.jpg', 'new\nline.jpg', 'ünïcødé 🔥.jpg', ' spaced ', '"', ''];
  const text = toCsv(['name', 'n'], names.map((n, i) => [n, i]));
  const out = await python('import csv,io,sys,json; print(json.dumps(list(csv.reader(io.StringIO(sys.argv[1], newline="")))))', text);
  assert.deepEqual(JSON.parse(out), [['name', 'n'], ...names.map((n, i) => [n, String(i)])]);
});

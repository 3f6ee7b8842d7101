/**
 * Text exactly as Python's `json.dumps(obj)` writes it with its defaults
 * (`ensure_ascii=True`, separators `", "` and `": "`, `allow_nan=True`),
 * which is what cmflib's `dumptojson` sends and cmf-server parses.
 * `JSON.stringify` is not usable: it drops the `.0` of whole doubles (the
 * server would then store an int), rounds int64 above 2^53, writes non-ASCII
 * raw and has no NaN.
 */

/** A Python float: always written with a fraction or an exponent (`1.0`, `1e+16`, `NaN`). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Values Python's json module writes; ints are bigint, dicts are Maps (insertion order, any key). */
export type Py = null | boolean | string | bigint | PyFloat | Py[] | PyDict;
export type PyDict = Map<string, Py>;

const HEX = '0123456789abcdef';
const PLAIN = /^[ !#-[\]-~]*$/; // printable ASCII without `"` and `\`
const PRINTABLE = /^[ -~]*$/;

/** A JSON string literal as Python writes it with ensure_ascii: every char outside 0x20–0x7e escaped, `\uXXXX` lowercase. */
export function pyStr(s: string): string {
  if (PLAIN.test(s)) return `"${s}"`;
  if (PRINTABLE.test(s)) return `"${s.replace(/["\\]/g, '\\$&')}"`; // e.g. a whole JSON text as a string
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e) {
      if (c === 0x22) out += '\\"';
      else if (c === 0x5c) out += '\\\\';
      else out += s[i];
      continue;
    }
    switch (c) {
      case 0x0a:
        out += '\\n';
        break;
      case 0x0d:
        out += '\\r';
        break;
      case 0x09:
        out += '\\t';
        break;
      case 0x08:
        out += '\\b';
        break;
      case 0x0c:
        out += '\\f';
        break;
      default:
        // UTF-16 code units: astral characters come out as a surrogate pair, as in Python
        out += '\\u' + HEX[(c >> 12) & 15] + HEX[(c >> 8) & 15] + HEX[(c >> 4) & 15] + HEX[c & 15];
    }
  }
  return out + '"';
}

/**
 * Python's `float.__repr__`: the shortest digits that read back as the same
 * double (JS's toExponential() gives the same digits), fixed notation when
 * the decimal exponent is in [-4, 16), else `d.ddde±XX`.
 */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const sign = mant.startsWith('-') ? '-' : '';
  const digits = mant.replace('-', '').replace('.', '');
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const intLen = exp + 1;
    const intPart = digits.length >= intLen ? digits.slice(0, intLen) : digits + '0'.repeat(intLen - digits.length);
    const frac = digits.slice(intLen) || '0';
    return `${sign}${intPart}.${frac}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp);
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
}

/** json.dumps(value) for the value model above. */
export function pyDumps(value: Py): string {
  // string concatenation (V8 ropes) is far cheaper here than collecting millions of pieces
  return write(value);
}

function write(v: Py): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return pyStr(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof PyFloat) return pyFloatRepr(v.value);
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) out += (i ? ', ' : '') + write(v[i]!);
    return out + ']';
  }
  let out = '{';
  let first = true;
  for (const [k, x] of v) {
    out += (first ? '' : ', ') + pyStr(k) + ': ' + write(x);
    first = false;
  }
  return out + '}';
}

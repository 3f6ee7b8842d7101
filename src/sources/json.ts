/**
 * A small JSON reader for plugin output. JSON.parse is not enough here:
 * - pywaggle (Python's json) writes bare NaN / Infinity / -Infinity tokens;
 * - a float written as `1.0` must stay a float (MLMD double) and not become
 *   the integer 1, so numbers keep their source text;
 * - wagglemsg `ts` values exceed 2^53 and must not be rounded.
 * Numbers therefore come back as JsonNumber, holding the exact lexeme.
 */
export class JsonNumber {
  constructor(readonly raw: string) {}
  /** True for integer lexemes (no fraction, no exponent, not NaN/Infinity). */
  get isInteger(): boolean {
    return /^-?\d+$/.test(this.raw);
  }
  get isFinite(): boolean {
    return this.raw !== 'NaN' && !this.raw.endsWith('Infinity');
  }
  toBigInt(): bigint {
    return BigInt(this.raw);
  }
  toNumber(): number {
    return Number(this.raw);
  }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | { [key: string]: JsonValue };

export class JsonSyntaxError extends Error {
  constructor(message: string, readonly position: number) {
    super(`${message} at character ${position + 1}`);
  }
}

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const MAX_DEPTH = 256;

/** Parse one JSON text; throws JsonSyntaxError on anything malformed. */
export function parseJson(text: string): JsonValue {
  let i = 0;
  let depth = 0;

  const fail = (msg: string): never => {
    throw new JsonSyntaxError(msg, i);
  };
  const skipWs = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return true;
    }
    return false;
  };

  const parseString = (): string => {
    i++; // opening quote
    let out = '';
    let start = i;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c === 0x5c) {
        out += text.slice(start, i);
        const e = text[i + 1];
        i += 2;
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            const hex = text.slice(i, i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
            out += String.fromCharCode(parseInt(hex, 16));
            i += 4;
            break;
          }
          default:
            i -= 1;
            fail('bad escape');
        }
        start = i;
        continue;
      }
      if (c < 0x20) fail('control character in string');
      i++;
    }
    return fail('unterminated string');
  };

  const parseValue = (): JsonValue => {
    skipWs();
    const c = text[i];
    if (c === '{') {
      if (++depth > MAX_DEPTH) fail('nesting too deep');
      i++;
      const obj: { [key: string]: JsonValue } = Object.create(null);
      skipWs();
      if (text[i] === '}') {
        i++;
        depth--;
        return obj;
      }
      for (;;) {
        skipWs();
        if (text[i] !== '"') fail('expected a key');
        const key = parseString();
        skipWs();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        obj[key] = parseValue();
        skipWs();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          depth--;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      if (++depth > MAX_DEPTH) fail('nesting too deep');
      i++;
      const arr: JsonValue[] = [];
      skipWs();
      if (text[i] === ']') {
        i++;
        depth--;
        return arr;
      }
      for (;;) {
        arr.push(parseValue());
        skipWs();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          depth--;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return parseString();
    if (literal('true')) return true;
    if (literal('false')) return false;
    if (literal('null')) return null;
    if (literal('NaN')) return new JsonNumber('NaN');
    if (literal('Infinity')) return new JsonNumber('Infinity');
    if (literal('-Infinity')) return new JsonNumber('-Infinity');
    NUMBER_RE.lastIndex = i;
    const m = NUMBER_RE.exec(text);
    if (m && m[0].length > 0) {
      i += m[0].length;
      return new JsonNumber(m[0]);
    }
    return fail(c === undefined ? 'unexpected end of input' : `unexpected '${c}'`);
  };

  const value = parseValue();
  skipWs();
  if (i !== text.length) fail('trailing characters');
  return value;
}

export function isObject(v: JsonValue | undefined): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
}

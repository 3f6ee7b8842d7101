/**
 * The small subset of Python configobj that `.dvc/config` uses: top-level
 * `[section]` headers (quoted when the name needs it, e.g. `['remote "x"']`),
 * `key = value` lines indented 4 spaces, `#` comments. Lists, nested
 * sections and triple quotes are not supported (DVC never writes them for
 * the keys cmf uses).
 */

/** configobj quotes a value that starts/ends with space or a quote, or holds `,` or `#`. */
const NEEDS_QUOTE_EDGE = new Set([' ', '\r', '\t', '\n', '\v', "'", '"']);

export function quoteConfigValue(v: string): string {
  if (v === '') return '""';
  if (/[\r\n]/.test(v)) throw new Error(`a .dvc/config value cannot contain a line break: ${JSON.stringify(v)}`);
  const plain = !NEEDS_QUOTE_EDGE.has(v[0]!) && !NEEDS_QUOTE_EDGE.has(v[v.length - 1]!) && !/[,#]/.test(v);
  if (plain) return v;
  if (v.includes('"') && v.includes("'")) {
    throw new Error(`a .dvc/config value cannot contain both quote characters: ${JSON.stringify(v)}`);
  }
  return v.includes('"') ? `'${v}'` : `"${v}"`;
}

export function sectionHeader(name: string): string {
  return `[${quoteConfigValue(name)}]`;
}

export function keyLine(key: string, value: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(key)) throw new Error(`unsupported .dvc/config key: ${JSON.stringify(key)}`);
  return `    ${key} = ${quoteConfigValue(value)}`;
}

interface HeaderLine {
  kind: 'header';
  name: string;
}
interface KeyLine {
  kind: 'key';
  key: string;
  value: string;
}
type ParsedLine = HeaderLine | KeyLine | { kind: 'other' };

const HEADER_RE = /^\s*\[\s*(.*?)\s*\]\s*(?:#.*)?$/;
const KEY_RE = /^\s*("[^"]*"|'[^']*'|[^=]+?)\s*=\s*(.*)$/;

function unquote(s: string): string {
  const q = s[0];
  if ((q === '"' || q === "'") && s.length >= 2 && s[s.length - 1] === q) return s.slice(1, -1);
  return s;
}

/** The value part of `key = value`: a quoted string, or text up to an inline `#` comment. */
function readValue(raw: string): string {
  const q = raw[0];
  if (q === '"' || q === "'") {
    const end = raw.indexOf(q, 1);
    if (end > 0) return raw.slice(1, end);
  }
  const hash = raw.indexOf('#');
  return (hash >= 0 ? raw.slice(0, hash) : raw).trim();
}

export function parseLine(line: string): ParsedLine {
  const t = line.trim();
  if (t === '' || t.startsWith('#')) return { kind: 'other' };
  const h = HEADER_RE.exec(line);
  if (h && !t.startsWith('[[')) return { kind: 'header', name: unquote(h[1]!) };
  const k = KEY_RE.exec(line);
  if (k) return { kind: 'key', key: unquote(k[1]!.trim()), value: readValue(k[2]!.trim()) };
  return { kind: 'other' };
}

/** Every section, in file order; keys before the first header go to section ''. */
export function parseConfigObj(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let cur = '';
  for (const line of text.split(/\r?\n/)) {
    const p = parseLine(line);
    if (p.kind === 'header') {
      cur = p.name;
      if (!sections.has(cur)) sections.set(cur, new Map());
    } else if (p.kind === 'key') {
      let s = sections.get(cur);
      if (!s) sections.set(cur, (s = new Map()));
      s.set(p.key, p.value);
    }
  }
  return sections;
}

/**
 * Set `section.key = value`, editing the text in place so comments and
 * other sections survive: replace the key's line, else add it after the
 * section's last key, else append the section at the end.
 */
export function setConfigValue(text: string, section: string, key: string, value: string): string {
  const lines = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
  let inSection = false;
  let insertAt = -1;
  for (let i = 0; i < lines.length; i++) {
    const p = parseLine(lines[i]!);
    if (p.kind === 'header') {
      if (inSection) break;
      inSection = p.name === section;
      if (inSection) insertAt = i + 1;
    } else if (inSection && p.kind === 'key') {
      if (p.key === key) {
        lines[i] = keyLine(key, value);
        return lines.join('\n') + '\n';
      }
      insertAt = i + 1;
    }
  }
  if (insertAt >= 0) lines.splice(insertAt, 0, keyLine(key, value));
  else lines.push(sectionHeader(section), keyLine(key, value));
  return lines.join('\n') + '\n';
}

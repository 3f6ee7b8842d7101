import YAML from 'yaml';
import { writeFileAtomic } from '../fsutil/atomic.js';
import { assertMd5, isMd5 } from './md5.js';

export interface PointerOut {
  md5: string;
  size: number;
  /** POSIX path relative to the `.dvc` file's directory (for `dvc add`: the basename). */
  path: string;
  isexec?: boolean;
}

export interface ParsedPointer {
  md5: string;
  size?: number;
  path: string;
  /** 'md5-dos2unix' for a DVC 2.x entry (no `hash:` key): its object lives in the legacy cache layout. */
  hashName: 'md5' | 'md5-dos2unix';
  isexec?: boolean;
}

/**
 * The text `dvc add` (3.x) writes: key order md5, size, isexec (only when
 * true), hash, path; block style, list dash not indented under `outs:`.
 * Scalars that would not read back as the same string (all-digit md5,
 * `1e5…`, `: `, `#`, `yes`, …) are quoted, as ruamel does, only with double
 * instead of single quotes. No line folding, so a long name stays on one line.
 */
export function renderPointer(o: PointerOut): string {
  assertMd5(o.md5);
  if (!Number.isSafeInteger(o.size) || o.size < 0) throw new Error(`pointer size must be a non-negative integer, got ${o.size}`);
  if (!o.path) throw new Error('pointer path must not be empty');
  const out: Record<string, unknown> = { md5: o.md5, size: o.size };
  if (o.isexec) out.isexec = true;
  out.hash = 'md5';
  out.path = o.path;
  const doc = new YAML.Document({ outs: [out] });
  for (const key of ['md5', 'path']) {
    const node = doc.getIn(['outs', 0, key], true);
    if (YAML.isScalar(node) && misreadable(String(node.value))) node.type = 'QUOTE_DOUBLE';
  }
  return doc.toString({ indentSeq: false, lineWidth: 0 });
}

/**
 * Would this string, written plain, read back as something else under
 * YAML 1.2 (ruamel, the yaml package) or 1.1 (PyYAML: `yes`, `0b1`, `12:30`)?
 * The yaml package alone only guards against 1.2 readings.
 */
function misreadable(s: string): boolean {
  for (const version of ['1.1', '1.2'] as const) {
    try {
      if (YAML.parse(s, { version }) !== s) return true;
    } catch {
      return true;
    }
  }
  return false;
}

/**
 * Read a one-output `.dvc` file. Parsed with the failsafe schema so every
 * scalar stays a string: an unquoted all-digit md5 must not become a number.
 */
export function parsePointer(text: string): ParsedPointer {
  let doc: unknown;
  try {
    doc = YAML.parse(text, { schema: 'failsafe' });
  } catch (err) {
    throw new Error(`not a valid .dvc file: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!isRecord(doc)) throw new Error('not a valid .dvc file: expected a mapping with an `outs:` list');
  const outs = doc.outs;
  if (!Array.isArray(outs) || outs.length !== 1) {
    throw new Error(`not a one-output .dvc file: \`outs:\` must be a list of exactly one entry, found ${Array.isArray(outs) ? outs.length : 'none'}`);
  }
  const out = outs[0];
  if (!isRecord(out)) throw new Error('not a valid .dvc file: the output entry is not a mapping');
  const { md5, size, hash, path, isexec } = out;
  if (typeof path !== 'string' || path === '') throw new Error('not a valid .dvc file: the output has no `path`');
  if (typeof md5 !== 'string') throw new Error(`${path}: the .dvc entry has no md5 (cloud-versioned or unsupported output)`);
  if (md5.endsWith('.dir')) throw new Error(`${path}: directory outputs (${md5}) are not supported, only single files`);
  if (!isMd5(md5)) throw new Error(`${path}: md5 in the .dvc file is not 32 hex digits: ${JSON.stringify(md5)}`);
  let hashName: ParsedPointer['hashName'];
  if (hash === undefined) hashName = 'md5-dos2unix';
  else if (hash === 'md5') hashName = 'md5';
  else throw new Error(`${path}: unsupported hash ${JSON.stringify(hash)} in the .dvc file`);
  const result: ParsedPointer = { md5, path, hashName };
  if (size !== undefined) {
    if (typeof size !== 'string' || !/^\d+$/.test(size) || !Number.isSafeInteger(Number(size))) {
      throw new Error(`${path}: size in the .dvc file is not a whole number: ${JSON.stringify(size)}`);
    }
    result.size = Number(size);
  }
  if (isexec === 'true') result.isexec = true;
  return result;
}

/** Write `<file>` (normally `<data>.dvc`) atomically; fsync on by default. */
export async function writePointer(file: string, o: PointerOut, opts: { fsync?: boolean } = {}): Promise<void> {
  await writeFileAtomic(file, renderPointer(o), { fsync: opts.fsync ?? true });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

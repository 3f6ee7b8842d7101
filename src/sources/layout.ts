import { createHash } from 'node:crypto';
import { isoFromNs } from './timestamp.js';

const MAX_NAME_BYTES = 200;

/**
 * Where a result's DVC pointer lives in the workspace: one folder per UTC day,
 * so no git tree grows without bound and a person can browse by date.
 */
export function resultWorkspacePath(tsNs: bigint, name: string): string {
  return `results/${isoFromNs(tsNs).slice(0, 10)}/${safeName(name)}`;
}

/**
 * A file name that is safe inside the workspace: no path separators or `:` (cmflib splits names on it), no NUL,
 * newlines or other control characters (they break .dvc YAML and git) nor bidirectional overrides, never `.`/`..` or a leading dot, and `<name>.dvc` within NAME_MAX
 * (255 bytes). A name that had to change carries `~` and a hash of the original before its extension, so two
 * names made safe alike (`a\nb.txt`, `a_b.txt`) keep two pointers.
 */
export function safeName(name: string): string {
  let s = name.replace(/[\/\\:\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '_');
  if (s === '' || s === '.' || s === '..') s = `_${s}`;
  if (s.startsWith('.')) s = `_${s.slice(1)}`;
  if (s.endsWith('.dvc')) s = `${s}_`;
  if (s === name && Buffer.byteLength(s) <= MAX_NAME_BYTES) return s;
  const tag = `~${createHash('sha1').update(name).digest('hex').slice(0, 10)}`;
  const ext = /\.[A-Za-z0-9]{1,10}$/.exec(s)?.[0] ?? '';
  let head = s.slice(0, s.length - ext.length);
  while (Buffer.byteLength(head) + tag.length + ext.length > MAX_NAME_BYTES) head = [...head].slice(0, -1).join(''); // whole code points
  return head + tag + ext;
}

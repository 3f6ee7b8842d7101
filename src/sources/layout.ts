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
 * A file name that is safe inside the workspace: no path separators or `:` (cmflib splits names on it), no NUL or
 * newlines (they break .dvc YAML and git), never `.`/`..` or a leading dot.
 */
export function safeName(name: string): string {
  let s = name.replace(/[\/\\:\u0000-\u001f\u007f]/g, '_');
  if (s === '' || s === '.' || s === '..') s = `_${s}`;
  if (s.startsWith('.')) s = `_${s.slice(1)}`;
  if (s.endsWith('.dvc')) s = `${s}_`;
  // `<name>.dvc` must fit NAME_MAX (255 bytes): shorten long names, keeping
  // them unique with a hash of the whole name.
  if (Buffer.byteLength(s) > MAX_NAME_BYTES) {
    const tag = `~${createHash('sha1').update(name).digest('hex').slice(0, 10)}`;
    let head = s;
    while (Buffer.byteLength(head) + tag.length > MAX_NAME_BYTES) head = head.slice(0, -1);
    s = head + tag;
  }
  return s;
}

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../fsutil/atomic.js';

/** Escape gitignore metacharacters the way DVC (pathspec) does: `[ ] ! * # ?`. */
export function gitignoreEscape(name: string): string {
  return name.replace(/[[\]!*#?]/g, (c) => `\\${c}`);
}

/**
 * One rule set that ignores every data file in this directory and below,
 * while keeping directories, `.dvc` pointers and `.gitignore` files visible
 * to git. Unanchored patterns, so results in subdirectories are covered too
 * and a directory never has to be re-included from inside (git cannot do that).
 * DVC writes nothing for a path git already ignores, so `dvc add` stays happy.
 */
export const DATA_DIR_RULES = ['*', '!*/', '!*.dvc', '!.gitignore'];

const HEADER = '# cmf-sage: data files here are stored by DVC; git tracks only the .dvc pointers';

/**
 * Make `<dir>/.gitignore` hold DATA_DIR_RULES (instead of one `/name` line per
 * result). An existing file keeps its lines; the rules are appended at the
 * end, where they win, unless they are already there in order.
 */
export async function ensureIgnoredDataDir(dir: string, opts: { fsync?: boolean } = {}): Promise<void> {
  const file = path.join(dir, '.gitignore');
  let old = '';
  try {
    old = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (endsWithRules(old)) return;
  const sep = old === '' || old.endsWith('\n') ? '' : '\n';
  await writeFileAtomic(file, `${old}${sep}${HEADER}\n${DATA_DIR_RULES.join('\n')}\n`, { fsync: opts.fsync ?? true });
}

function endsWithRules(text: string): boolean {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const tail = lines.slice(-DATA_DIR_RULES.length);
  return tail.length === DATA_DIR_RULES.length && tail.every((l, i) => l === DATA_DIR_RULES[i]);
}

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { describeFsError, UserError } from '../errors.js';
import { writeFileAtomic } from '../fsutil/atomic.js';

/** --workspace, else $CMF_SAGE_WORKSPACE, else ./cmf-workspace. */
export function resolveWorkspaceDir(flag: string | undefined): string {
  return path.resolve(flag ?? process.env.CMF_SAGE_WORKSPACE ?? 'cmf-workspace');
}

/**
 * Write a command's --out file. A regular file (or a new one) is replaced
 * atomically; through a symbolic link it is the link's target that is
 * replaced (the link stays); a device, FIFO or socket (/dev/null,
 * /dev/stdout, a pipe) is written to, never replaced by a file. A folder
 * that is not there is the person's typo, not a disk problem: exit 2
 * naming it.
 */
export async function writeOutFile(out: string, text: string): Promise<string> {
  if (out.trim() === '') throw new UserError('--out needs a file name', 2);
  const given = path.resolve(out);
  const file = await fsp.realpath(given).catch(() => given);
  const st = await fsp.stat(file).catch(() => undefined);
  if (st?.isDirectory()) throw new UserError(`--out ${out}: ${file} is a folder; give a file name in it`, 2);
  try {
    if (st && !st.isFile()) {
      await fsp.writeFile(file, text);
      return file;
    }
  } catch (err) {
    throw describeFsError(err, `writing ${out}`);
  }
  const dir = path.dirname(file);
  const dst = await fsp.stat(dir).catch(() => undefined);
  if (!dst?.isDirectory()) {
    throw new UserError(`--out ${out}: ${dst ? `${dir} is not a folder` : `the folder ${dir} does not exist`}; create it or choose another path`, 2);
  }
  try {
    await writeFileAtomic(file, text);
  } catch (err) {
    throw describeFsError(err, `writing ${out}`);
  }
  return file;
}

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { describeFsError, UserError } from '../errors.js';
import { writeFileAtomic } from '../fsutil/atomic.js';
import { inside, realTarget } from '../fsutil/paths.js';
import { WorkspaceLayout } from '../workspace/layout.js';
import { readSettings } from '../workspace/settings.js';

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
export async function writeOutFile(out: string, text: string, keep: OutGuard = {}): Promise<string> {
  if (out.trim() === '') throw new UserError('--out needs a file name', 2);
  const file = await realTarget(out);
  await refuseOwnFiles(out, file, keep);
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

/** What an --out may never replace: the command's input, and a workspace's own files. */
export interface OutGuard {
  /** Files the command read (--file). */
  inputs?: string[];
  /** The workspace the command read (its mlmd, git, DVC and cmf-sage files). */
  workspace?: string;
}

/** A workspace's own folders, and its files at the root besides the mlmd. */
const OWN_FOLDERS = new Set(['.git', '.dvc', '.cmf-sage', 'models', 'results']);
const OWN_FILES = new Set(['.cmfconfig', '.gitignore', '.dvcignore']);

async function refuseOwnFiles(out: string, file: string, keep: OutGuard): Promise<void> {
  for (const input of keep.inputs ?? []) {
    if ((await realTarget(input)) === file) throw new UserError(`--out ${out} is the file this command reads; write to another file`, 2);
  }
  if (!keep.workspace) return;
  const root = await realTarget(keep.workspace);
  const rel = inside(root, file);
  if (!rel) return;
  const first = rel.split(path.sep)[0]!;
  const mlmd = (await readSettings(new WorkspaceLayout(root).settingsFile).catch(() => undefined))?.mlmd ?? 'mlmd';
  if (OWN_FOLDERS.has(first) || OWN_FILES.has(rel) || rel === mlmd) {
    throw new UserError(`--out ${out} would replace the workspace's own ${rel}; write the output elsewhere`, 2);
  }
}

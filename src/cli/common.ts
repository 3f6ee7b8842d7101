import path from 'node:path';

/** --workspace, else $CMF_SAGE_WORKSPACE, else ./cmf-workspace. */
export function resolveWorkspaceDir(flag: string | undefined): string {
  return path.resolve(flag ?? process.env.CMF_SAGE_WORKSPACE ?? 'cmf-workspace');
}

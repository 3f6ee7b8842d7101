import path from 'node:path';

/**
 * Where everything lives in a cmf-sage workspace. The folder is a normal cmf
 * workspace (git repo, `.dvc/`, `.cmfconfig`, the mlmd file); cmf-sage's own
 * state sits in `.cmf-sage/`, which git ignores.
 */
export class WorkspaceLayout {
  readonly root: string;
  constructor(root: string, readonly mlmdName = 'mlmd') {
    this.root = path.resolve(root);
  }
  get mlmdFile(): string {
    return path.join(this.root, this.mlmdName);
  }
  get dvcDir(): string {
    return path.join(this.root, '.dvc');
  }
  get cacheDir(): string {
    return path.join(this.root, '.dvc', 'cache');
  }
  get cmfConfig(): string {
    return path.join(this.root, '.cmfconfig');
  }
  get stateDir(): string {
    return path.join(this.root, '.cmf-sage');
  }
  get journalFile(): string {
    return path.join(this.stateDir, 'journal.ndjson');
  }
  get stateFile(): string {
    return path.join(this.stateDir, 'state.json');
  }
  get settingsFile(): string {
    return path.join(this.stateDir, 'workspace.json');
  }
  /** Written by `push` to ask a running `watch` to seal what is closed. */
  get sealRequestFile(): string {
    return path.join(this.stateDir, 'seal-request');
  }
  get lockFile(): string {
    return path.join(this.stateDir, 'lock');
  }
  abs(workspacePath: string): string {
    return path.join(this.root, ...workspacePath.split('/'));
  }
}

/** The default DVC remote: a folder beside the workspace. */
export function defaultRemoteFor(root: string): string {
  const abs = path.resolve(root);
  return path.join(path.dirname(abs), `${path.basename(abs)}-dvc-remote`);
}

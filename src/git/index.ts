import './deflate.js';
export { WorkspaceRepo, type CheckResult, type WorkspaceRepoOptions } from './repo.js';
export { createDurableFs, type DurableFs } from './durable-fs.js';
export { INITIAL_MESSAGE, REMOTE_NAME, type Author } from './create.js';

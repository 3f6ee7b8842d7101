export { WorkspaceRepo } from './repo.js';
export { createDurableFs } from './durable-fs.js';
export { INITIAL_MESSAGE, REMOTE_NAME } from './create.js';
//# sourceMappingURL=index.js.map
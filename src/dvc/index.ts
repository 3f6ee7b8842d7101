export { hashFile, md5File, CHUNK_SIZE, type FileDigest } from './hash.js';
export { DvcCache, SourceChangedError, type AddResult, type DvcCacheOptions } from './cache.js';
export type { OpenTemp } from './copy.js';
export { renderPointer, parsePointer, writePointer, type PointerOut, type ParsedPointer } from './pointer.js';
export {
  remoteNameFor,
  isLocalRemote,
  renderDvcConfig,
  parseDvcConfig,
  initDvc,
  remoteObjectUrl,
  readDefaultRemote,
  type DvcConfig,
  type InitDvcOptions,
} from './config.js';
export { gitignoreEscape, ensureIgnoredDataDir, DATA_DIR_RULES } from './ignore.js';
export { isMd5 } from './md5.js';

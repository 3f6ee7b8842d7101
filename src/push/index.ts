/** `cmf-sage push`: deliver sealed segments as cmf archives to the Waggle datastore. */
export { push, requireWorkspace, withPushLock, type PushOptions, type PushResult, type PushSummary, type SegmentReport } from './push.js';
export { pushStatus, type PushStatus } from './status.js';
export { resolveTarget, NODE_UPLOAD_PATH, type TargetOptions } from './targets.js';
export { archiveName, planArchive, buildArchive, measureArchive, ARCHIVE_PREFIX, type ArchivePlan, type BuiltArchive } from './archive.js';
export { listSealedSegments, type Segment, type SegmentManifest } from './segments.js';
export { readDelivery, type DeliveryFile, type TargetState } from './delivery-state.js';
export { amqpSettingsFromEnv, type AmqpSettings } from './amqp-publisher.js';
export { uploadMessageBody, uploadMetaJson, logdirUploadLine, pywaggleTimestamp } from './wagglemsg.js';
export type { KeepCache } from './prune.js';
export type { Target, TargetKind } from './target.js';
export { previewSeal, formatSealPreview, type SealPreview } from './seal-preview.js';

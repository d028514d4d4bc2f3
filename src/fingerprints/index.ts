/**
 * Key fingerprints: the store (Redis or in-memory), the request-path tracker, alerts.
 * See ./README.md for the design and the Redis schema.
 */
export type {
  AlertKind, ExposureInfo, FingerprintStore, KeyRecord, KeyStatus, KeyUse, ObjectEntry, ObjectRef, ObjectsPage, ObjectWrite,
  StatusInfo, StoreHealth, UploadComplete, UploadPart, UploadStart,
} from './types.js';
export { ALERT_KINDS, KEY_STATUSES } from './types.js';
export { createFingerprintStore, openFingerprintStore, usesRedis, type CreateStoreDeps } from './store.js';
export { KeyTracker, type RecordExtra } from './tracker.js';
export { deletedObjects, isErrorBody, parseUploadId } from './s3-xml.js';
export { overdueReasons, type RotationPolicy, type OverdueReason } from './policy.js';
export { toAlertmanager, type KeyAlert, type WebhookOptions } from './alerts.js';

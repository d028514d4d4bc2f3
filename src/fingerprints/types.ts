/**
 * The fingerprint store's vocabulary. A fingerprint is HMAC-SHA256(server secret, raw key) in hex
 * (CustomerKey.fingerprint); people see its first 16 hex digits (shortId). Nothing here ever holds
 * key material: the store only ever receives fingerprints.
 */
import type { KeyExposure } from '../events/key-events.js';

export type KeyStatus = 'active' | 'retired' | 'compromised';
export const KEY_STATUSES: readonly KeyStatus[] = ['active', 'retired', 'compromised'];

/** Alert kinds, the closed label set of `ssec_gateway_key_alerts_total{kind}`. */
export type AlertKind = 'exposed' | 'rotation_due' | 'retired_used' | 'compromised_used';
export const ALERT_KINDS: readonly AlertKind[] = ['exposed', 'rotation_due', 'retired_used', 'compromised_used'];

/** One request that carried a key (destination or copy source) and was forwarded. */
export interface KeyUse {
  fingerprint: string;
  at: Date;
  /** client address (later: the principal / access key) */
  client: string;
  bucket?: string;
  operation: string;
  /** bytes of object data written with this key by this request (0 for reads) */
  bytesWritten: number;
  /**
   * The key's status in this replica's cache when the request was admitted. retired_used /
   * compromised_used alerts go by it, not by the status when the event is written: a use from
   * before an exposure must not raise compromised_used (and take its once-an-hour slot).
   */
  seen?: KeyStatus;
}

export interface ObjectRef {
  bucket: string;
  key: string;
  /** S3 version id; absent (or "null") = the unversioned / null version */
  versionId?: string;
}

/** A successful object write (PutObject, POST, CopyObject, a re-key). */
export interface ObjectWrite extends ObjectRef {
  /** the key the object is now encrypted with; absent = written without SSE-C (drops the entry) */
  fingerprint?: string;
  /** object size in bytes; absent = unknown (then taken from `copySource`'s entry when it has one) */
  size?: number;
  at: Date;
  /** CopyObject: the source, to learn the size from the inventory */
  copySource?: ObjectRef;
  /**
   * Re-keying: the key the object was under. Its inventory entry is dropped whatever the index says
   * — a rotate killed between the steps of an earlier write may have left it there.
   */
  dropFrom?: string;
}

export interface UploadStart { uploadId: string; fingerprint: string; bucket: string; key: string; at: Date }
export interface UploadPart {
  uploadId: string;
  partNumber: number;
  /** bytes of this part; absent = unknown (UploadPartCopy without a range) */
  size?: number;
  /** the part's key: lets the completion be attributed even when CreateMultipartUpload was not seen */
  fingerprint?: string;
  bucket?: string;
  key?: string;
}
export interface UploadComplete extends ObjectRef {
  uploadId: string;
  at: Date;
  /** the key sent with CompleteMultipartUpload, if any (RGW does not require it) */
  fingerprint?: string;
}

/** One object protected by a key, as listed by `keys objects` and `rotate`. */
export interface ObjectEntry {
  bucket: string;
  key: string;
  versionId?: string;
  /** bytes, or null when unknown (a copy whose source was not in the inventory) */
  size: number | null;
  at: Date;
}

export interface ExposureInfo {
  /** first exposure */
  at: Date;
  lastAt: Date;
  count: number;
  /** details of the first exposure */
  client: string;
  listener: string;
  header: string;
  requestId: string;
}

export interface KeyRecord {
  fingerprint: string;
  /** shortId(fingerprint): the first 16 hex digits */
  id: string;
  status: KeyStatus;
  statusAt?: Date;
  firstSeen: Date;
  lastSeen: Date;
  /** forwarded requests that carried this key */
  requests: number;
  /** object bytes written with this key (PutObject, UploadPart, POST) */
  bytesWritten: number;
  /** objects currently protected by this key (the inventory) */
  objects: number;
  /** sum of the known sizes of those objects */
  objectBytes: number;
  /** most recently seen client addresses, newest first (at most MAX_CLIENTS) */
  clients: string[];
  /** most recently used buckets, newest first (at most MAX_BUCKETS) */
  buckets: string[];
  exposure?: ExposureInfo;
  /** when each kind of alert was last raised for this key */
  alerts: Partial<Record<AlertKind, Date>>;
}

export interface StatusInfo { status: KeyStatus; exposedAt?: Date }

export interface ObjectsPage { entries: ObjectEntry[]; /** absent at the end */ cursor?: string }

export interface StoreHealth {
  /** the backing store answers (always true for the in-memory store) */
  up: boolean;
  /** events waiting to be written */
  queueDepth: number;
  /** events dropped since start because the queue was full */
  dropped: number;
  kind: 'memory' | 'redis';
}

export interface FingerprintStore {
  readonly kind: 'memory' | 'redis';
  // ---- request path: synchronous, never throw, never wait (queued, written in batches) ----
  use(e: KeyUse): void;
  objectWritten(e: ObjectWrite): void;
  objectRemoved(e: ObjectRef): void;
  /** a re-keyed object (`rotate`): the new entry, and the old version's removal when it differs */
  objectRekeyed(e: ObjectWrite & { fromVersionId?: string }): void;
  uploadStarted(e: UploadStart): void;
  uploadPart(e: UploadPart): void;
  uploadCompleted(e: UploadComplete): void;
  uploadAborted(uploadId: string): void;
  /** Is this key retired or compromised? Local cache kept current by pub/sub; undefined = no restriction known. */
  statusOf(fingerprint: string): StatusInfo | undefined;
  /** Every retired or compromised key this replica knows (the deny list behind statusOf). */
  statuses(): ReadonlyMap<string, StatusInfo>;

  // ---- events and administration ----
  /** A key seen on the plaintext listener: compromised at once locally, then persisted and published. Never rejects. */
  exposed(e: KeyExposure): Promise<void>;
  /** Rejects when the store is unreachable. */
  setStatus(fingerprint: string, status: KeyStatus): Promise<void>;
  /** Deletes everything known about a key (record, inventory, index entries). Rejects when unreachable. */
  forget(fingerprint: string): Promise<void>;
  get(fingerprint: string): Promise<KeyRecord | undefined>;
  list(): Promise<KeyRecord[]>;
  /** One page of a key's inventory. Every entry present for the whole walk is returned at least once. */
  objectsPage(fingerprint: string, opts?: { cursor?: string; count?: number }): Promise<ObjectsPage>;
  /** The whole inventory of a key, page by page. */
  objects(fingerprint: string, opts?: { count?: number }): AsyncIterable<ObjectEntry>;

  /**
   * Resolves once the store is connected and has loaded the retired/compromised set, or after
   * timeoutMs (default 3 s) without it. Never rejects. (createFingerprintStore already waited.)
   */
  ready(timeoutMs?: number): Promise<void>;
  health(): StoreHealth;
  /** Waits until everything queued so far is written (true) or timeoutMs passed (false). */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Recomputes the key gauges and raises due rotation alerts (also done periodically). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

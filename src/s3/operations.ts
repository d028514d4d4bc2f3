/**
 * S3 operation from method + path + query (sse-c-reference.md Part A §2).
 * Only the operation name matters to the gateway: it decides which SSE-C triplets are validated,
 * names the metric label and the log field.
 */
export type SseCUse = {
  /** takes x-amz-server-side-encryption-customer-* */
  triplet: boolean;
  /** takes x-amz-copy-source-server-side-encryption-customer-* */
  copySource: boolean;
  /** writes object data (SSE-C together with x-amz-server-side-encryption is a conflict) */
  write: boolean;
  /** a read where x-amz-server-side-encryption is refused (AWS: GET/HEAD) */
  read: boolean;
};

const NONE: SseCUse = { triplet: false, copySource: false, write: false, read: false };

/** Every operation that takes SSE-C headers, and how (Part A §2 table). */
export const SSEC_OPERATIONS: Record<string, SseCUse> = {
  PutObject: { triplet: true, copySource: false, write: true, read: false },
  PostObject: { triplet: true, copySource: false, write: true, read: false },
  GetObject: { triplet: true, copySource: false, write: false, read: true },
  HeadObject: { triplet: true, copySource: false, write: false, read: true },
  GetObjectAttributes: { triplet: true, copySource: false, write: false, read: false },
  SelectObjectContent: { triplet: true, copySource: false, write: false, read: false },
  CreateMultipartUpload: { triplet: true, copySource: false, write: true, read: false },
  UploadPart: { triplet: true, copySource: false, write: false, read: false },
  UploadPartCopy: { triplet: true, copySource: true, write: false, read: false },
  CompleteMultipartUpload: { triplet: true, copySource: false, write: false, read: false },
  ListParts: { triplet: true, copySource: false, write: false, read: false },
  CopyObject: { triplet: true, copySource: true, write: true, read: false },
};

export function sseCUse(operation: string): SseCUse {
  return Object.hasOwn(SSEC_OPERATIONS, operation) ? SSEC_OPERATIONS[operation]! : NONE;
}

/** Sub-resources that name a bucket/object configuration operation: `?acl` → `…Acl`. */
const SUBRESOURCES: Record<string, string> = {
  acl: 'Acl', tagging: 'Tagging', policy: 'Policy', cors: 'Cors', lifecycle: 'LifecycleConfiguration', versioning: 'Versioning',
  encryption: 'Encryption', website: 'Website', replication: 'Replication', notification: 'NotificationConfiguration',
  'object-lock': 'ObjectLockConfiguration', logging: 'Logging', requestPayment: 'RequestPayment', accelerate: 'AccelerateConfiguration',
  ownershipControls: 'OwnershipControls', publicAccessBlock: 'PublicAccessBlock', analytics: 'AnalyticsConfiguration',
  metrics: 'MetricsConfiguration', inventory: 'InventoryConfiguration', 'intelligent-tiering': 'IntelligentTieringConfiguration',
  policyStatus: 'PolicyStatus', retention: 'Retention', 'legal-hold': 'LegalHold', torrent: 'Torrent',
};

const VERB: Record<string, string> = { GET: 'Get', PUT: 'Put', DELETE: 'Delete', HEAD: 'Get' };

function subresource(query: URLSearchParams): string | undefined {
  for (const k of query.keys()) if (Object.hasOwn(SUBRESOURCES, k)) return k;
  return undefined;
}

export function operationOf(method: string, bucket: string | undefined, key: string | undefined, query: URLSearchParams, headers: Record<string, string | string[] | undefined>): string {
  const m = method.toUpperCase();
  if (!bucket) return m === 'GET' ? 'ListBuckets' : 'Unknown';
  const sub = subresource(query);
  if (key === undefined) {
    if (sub) {
      if (sub === 'policyStatus') return 'GetBucketPolicyStatus';
      const verb = VERB[m];
      return verb ? `${verb}Bucket${SUBRESOURCES[sub]}` : 'Unknown';
    }
    switch (m) {
      case 'GET':
        if (query.has('location')) return 'GetBucketLocation';
        if (query.has('uploads')) return 'ListMultipartUploads';
        if (query.has('versions')) return 'ListObjectVersions';
        return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
      case 'HEAD': return 'HeadBucket';
      case 'PUT': return 'CreateBucket';
      case 'DELETE': return 'DeleteBucket';
      case 'POST':
        if (query.has('delete')) return 'DeleteObjects';
        return 'PostObject';
      default: return 'Unknown';
    }
  }
  const copySource = headers['x-amz-copy-source'] !== undefined;
  switch (m) {
    case 'GET':
      if (query.has('uploadId')) return 'ListParts';
      if (query.has('attributes')) return 'GetObjectAttributes';
      if (sub) return `GetObject${SUBRESOURCES[sub]}`;
      return 'GetObject';
    case 'HEAD': return 'HeadObject';
    case 'PUT':
      if (query.has('partNumber') && query.has('uploadId')) return copySource ? 'UploadPartCopy' : 'UploadPart';
      if (sub) return `PutObject${SUBRESOURCES[sub]}`;
      return copySource ? 'CopyObject' : 'PutObject';
    case 'POST':
      if (query.has('uploads')) return 'CreateMultipartUpload';
      if (query.has('uploadId')) return 'CompleteMultipartUpload';
      if (query.has('select')) return 'SelectObjectContent';
      if (query.has('restore')) return 'RestoreObject';
      return 'Unknown';
    case 'DELETE':
      if (query.has('uploadId')) return 'AbortMultipartUpload';
      if (sub) return `DeleteObject${SUBRESOURCES[sub]}`;
      return 'DeleteObject';
    default: return 'Unknown';
  }
}

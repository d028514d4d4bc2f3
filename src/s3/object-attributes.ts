/**
 * GetObjectAttributes answered from a HeadObject (for upstreams that cannot answer it: Ceph RGW 16
 * serves `GET ?attributes` as a plain GetObject). Pure: the requested attribute list and the
 * response body, following the AWS model (botocore s3 2006-03-01: GetObjectAttributesOutput).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { xmlEscape } from './xml.js';

export const OBJECT_ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
export type ObjectAttribute = (typeof OBJECT_ATTRIBUTES)[number];

/**
 * `x-amz-object-attributes` (comma-separated, possibly repeated). AWS: missing or empty → 400
 * InvalidRequest; any unknown name → 400 InvalidArgument (names are case-sensitive, as the model's enum).
 */
export function parseAttributeList(header: string | string[] | undefined): { want: Set<ObjectAttribute> } | { missing: true } | { invalid: string } {
  const names = (Array.isArray(header) ? header : header === undefined ? [] : [header])
    .flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) return { missing: true };
  const want = new Set<ObjectAttribute>();
  for (const n of names) {
    if (!(OBJECT_ATTRIBUTES as readonly string[]).includes(n)) return { invalid: n };
    want.add(n as ObjectAttribute);
  }
  return { want };
}

/** `x-amz-checksum-<suffix>` header → Checksum member (the model's order). */
const CHECKSUMS: [string, string][] = [
  ['crc32', 'ChecksumCRC32'], ['crc32c', 'ChecksumCRC32C'], ['crc64nvme', 'ChecksumCRC64NVME'], ['sha1', 'ChecksumSHA1'],
  ['sha256', 'ChecksumSHA256'], ['sha512', 'ChecksumSHA512'], ['md5', 'ChecksumMD5'], ['xxhash64', 'ChecksumXXHASH64'],
  ['xxhash3', 'ChecksumXXHASH3'], ['xxhash128', 'ChecksumXXHASH128'], ['type', 'ChecksumType'],
];


function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Part count of a multipart object, from its ETag's `-N` suffix (S3 and RGW alike); undefined for a single-part one. */
export function partsCountOf(etag: string): number | undefined {
  const m = /-(\d+)$/.exec(etag);
  return m ? Number(m[1]) : undefined;
}

/** `x-amz-max-parts` (AWS ignores a value it cannot use: default 1000) and `x-amz-part-number-marker` (default 0). */
export function partPaging(maxParts: string | string[] | undefined, marker: string | string[] | undefined): { maxParts: number; marker: number } {
  const m = Number(one(maxParts));
  const k = Number(one(marker));
  return {
    maxParts: Number.isInteger(m) && m >= 0 && m <= 1000 ? m : 1000,
    marker: Number.isInteger(k) && k >= 0 && k <= 10000 ? k : 0,
  };
}

/**
 * The `GetObjectAttributesResponse` body, with only the requested attributes, in the model's member
 * order. ETag without quotes; StorageClass STANDARD when the store names none (S3 omits the header
 * for STANDARD); ObjectParts only for a multipart object. A HEAD does not list the parts, and AWS
 * returns no <Part> elements for an object without additional checksums (API reference,
 * GetObjectAttributesParts.Parts), so ObjectParts carries the count and an untruncated page.
 * Checksum only when the HEAD showed `x-amz-checksum-*` headers.
 */
export function attributesXml(head: IncomingHttpHeaders, want: ReadonlySet<ObjectAttribute>, paging: { maxParts: number; marker: number }): string {
  const etag = String(one(head.etag) ?? '').replace(/"/g, '');
  let x = '<?xml version="1.0" encoding="UTF-8"?>\n<GetObjectAttributesResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/">';
  if (want.has('ETag') && etag) x += `<ETag>${xmlEscape(etag)}</ETag>`;
  if (want.has('Checksum')) {
    const members = CHECKSUMS.map(([h, el]) => [el, one(head[`x-amz-checksum-${h}`])] as const).filter(([, v]) => v);
    if (members.length) x += `<Checksum>${members.map(([el, v]) => `<${el}>${xmlEscape(v!)}</${el}>`).join('')}</Checksum>`;
  }
  const parts = partsCountOf(etag);
  if (want.has('ObjectParts') && parts !== undefined) {
    x += `<ObjectParts><PartNumberMarker>${paging.marker}</PartNumberMarker><MaxParts>${paging.maxParts}</MaxParts>`
      + `<IsTruncated>false</IsTruncated><PartsCount>${parts}</PartsCount></ObjectParts>`;
  }
  if (want.has('StorageClass')) x += `<StorageClass>${xmlEscape(one(head['x-amz-storage-class']) || 'STANDARD')}</StorageClass>`;
  const size = one(head['content-length']);
  if (want.has('ObjectSize') && size !== undefined && /^\d+$/.test(size)) x += `<ObjectSize>${size}</ObjectSize>`;
  return x + '</GetObjectAttributesResponse>';
}

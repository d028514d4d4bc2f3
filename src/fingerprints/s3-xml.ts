/**
 * The few S3 XML bodies the inventory needs (all small): the UploadId of CreateMultipartUpload,
 * the objects a DeleteObjects request asked for and the ones its answer says were deleted, and the
 * `200 OK` with an <Error> body that CompleteMultipartUpload may answer.
 */
import { xmlBlocks as blocks, xmlField as field } from '../s3/xml.js';

export { xmlText } from '../s3/xml.js';
import { normVersion } from './ids.js';
import type { ObjectRef } from './types.js';

/** CreateMultipartUpload's answer → UploadId. */
export function parseUploadId(xml: string): string | undefined {
  return field(xml, 'UploadId');
}

/** A 200 answer to CompleteMultipartUpload can still be an error (S3 documents it). */
export function isErrorBody(xml: string): boolean {
  return /<Error>/.test(xml) && !/<CompleteMultipartUploadResult[\s>]/.test(xml);
}

export interface DeleteRequest { quiet: boolean; objects: ObjectRef[] }
export function parseDeleteRequest(xml: string, bucket: string): DeleteRequest {
  return {
    quiet: /<Quiet>\s*true\s*<\/Quiet>/i.test(xml),
    objects: blocks(xml, 'Object').map((b) => ({ bucket, key: field(b, 'Key') ?? '', versionId: normVersion(field(b, 'VersionId')) })).filter((o) => o.key !== ''),
  };
}

export interface DeleteResult {
  deleted: { key: string; versionId?: string; deleteMarker: boolean; deleteMarkerVersionId?: string }[];
  errors: { key: string; versionId?: string }[];
}
export function parseDeleteResult(xml: string): DeleteResult {
  return {
    deleted: blocks(xml, 'Deleted').map((b) => ({
      key: field(b, 'Key') ?? '', versionId: field(b, 'VersionId'),
      deleteMarker: (field(b, 'DeleteMarker') ?? '').trim() === 'true', deleteMarkerVersionId: field(b, 'DeleteMarkerVersionId'),
    })),
    errors: blocks(xml, 'Error').map((b) => ({ key: field(b, 'Key') ?? '', versionId: field(b, 'VersionId') })),
  };
}

/**
 * The inventory entries a DeleteObjects removed. A deletion that only laid a delete marker (a
 * versioned bucket, no version asked for) removed nothing — except in a versioning-suspended
 * bucket, where the marker's version is "null" and the null version is gone. In quiet mode the
 * answer lists only failures: the request minus the errors is what was deleted.
 */
export function deletedObjects(bucket: string, requestXml: string, responseXml: string): ObjectRef[] {
  const req = parseDeleteRequest(requestXml, bucket);
  const res = parseDeleteResult(responseXml);
  if (res.deleted.length || !req.quiet) {
    return res.deleted.filter((d) => d.key !== '').flatMap((d) => {
      const v = normVersion(d.versionId);
      if (v !== undefined) return [{ bucket, key: d.key, versionId: v }];
      if (d.deleteMarker && normVersion(d.deleteMarkerVersionId) !== undefined) return [];
      return [{ bucket, key: d.key }];
    });
  }
  const failed = new Set(res.errors.map((e) => `${e.key}\0${normVersion(e.versionId) ?? ''}`));
  return req.objects.filter((o) => !failed.has(`${o.key}\0${o.versionId ?? ''}`));
}
